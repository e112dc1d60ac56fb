// Small progressive enhancements for every page. No inline scripts (strict CSP).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("form .button-warning");
    if (button && !window.confirm("Close this plan? Its reminders will stop.")) {
      event.preventDefault();
    }
  });
  // A change the plan page refused comes back with the reason inside its form: bring it into
  // view and to the keyboard's attention (the page itself opens at the top).
  var refused = document.querySelector(".flash-error[id$='-refused']");
  if (refused) {
    refused.tabIndex = -1;
    refused.scrollIntoView({ block: "center" });
    refused.focus({ preventScroll: true });
  }
  document.addEventListener("focusin", function (event) {
    if (event.target.id === "feed-url") { event.target.select(); }
  });
})();
