// Small progressive enhancements for every page. No inline scripts (strict CSP).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("form .button-warning");
    if (button && !window.confirm("Close this plan? Its reminders will stop.")) {
      event.preventDefault();
    }
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.id === "feed-url") { event.target.select(); }
  });
})();
