"""Draw a :class:`~assistant.documents.layout.Document` as PDF with fpdf2's core fonts.

Core fonts only know Latin-1, so every string is transliterated on its way in (curly quotes,
dashes and the like become their plain equivalents); nothing a school types can crash it.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace

from .layout import Block, Bullets, Document, Fields, Heading, Paragraph, Signatures, Table
from .text import to_latin1

FONT = "helvetica"
BODY_SIZE = 10
LINE = 5.0
GREY = (90, 90, 90)
HEADING_FILL = (225, 232, 240)
SIGNATURE_HEIGHT = 32.0  # role line, name and signature line, date line, spacing


class _FormPDF(FPDF):
    def __init__(self, running_head: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.running_head = running_head
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)

    def normalize_text(self, text: str) -> str:
        return super().normalize_text(to_latin1(text))

    def header(self) -> None:
        self.set_font(FONT, "I", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.running_head, align="R", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, "I", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def render_pdf(document: Document) -> bytes:
    pdf = _FormPDF(document.running_head)
    pdf.set_title(to_latin1(document.title))
    pdf.set_subject(to_latin1(document.subtitle))
    pdf.set_creator("Part-Time Timetable Assistant")
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 8, document.title, new_x="LMARGIN", new_y="NEXT")
    if document.subtitle:
        pdf.set_font(FONT, "", 11)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(0, 6, document.subtitle, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(3)
    for block in document.blocks:
        _draw(pdf, block)
    return bytes(pdf.output())


def _draw(pdf: _FormPDF, block: Block) -> None:
    if isinstance(block, Heading):
        _heading(pdf, block)
    elif isinstance(block, Paragraph):
        _paragraph(pdf, block)
    elif isinstance(block, Fields):
        _fields(pdf, block)
    elif isinstance(block, Table):
        _table(pdf, block)
    elif isinstance(block, Bullets):
        _bullets(pdf, block)
    elif isinstance(block, Signatures):
        _signatures(pdf, block)
    else:  # pragma: no cover - Block is a closed union
        raise TypeError(f"cannot draw {type(block).__name__}")


def _heading(pdf: _FormPDF, block: Heading) -> None:
    if pdf.will_page_break(30):
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT, "B", 12)
    pdf.set_fill_color(*HEADING_FILL)
    pdf.multi_cell(0, 7, block.text, fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)


def _paragraph(pdf: _FormPDF, block: Paragraph) -> None:
    if block.style == "quote":
        pdf.set_font(FONT, "I", 9)
        pdf.set_x(pdf.l_margin + 6)
        pdf.multi_cell(pdf.epw - 6, 4.5, block.text, new_x="LMARGIN", new_y="NEXT")
    elif block.style == "note":
        pdf.set_font(FONT, "", 8.5)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(0, 4.2, block.text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    else:
        pdf.set_font(FONT, "B" if block.style == "strong" else "", BODY_SIZE)
        pdf.multi_cell(0, LINE, block.text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)


def _fields(pdf: _FormPDF, block: Fields) -> None:
    if not block.rows:
        return
    pdf.set_font(FONT, "", BODY_SIZE - 1)
    bold = FontFace(emphasis="BOLD")
    with pdf.table(
        col_widths=(2, 3),
        first_row_as_headings=False,
        line_height=LINE,
        text_align="LEFT",
        padding=1.2,
    ) as table:
        for label, value in block.rows:
            row = table.row()
            row.cell(label, style=bold)
            row.cell(value or " ")
    pdf.ln(2)


def _table(pdf: _FormPDF, block: Table) -> None:
    size = 7 if block.compact else BODY_SIZE - 1
    pdf.set_font(FONT, "", size)
    widths = block.widths or tuple(1.0 for _ in block.header)
    with pdf.table(
        col_widths=widths,
        line_height=3.6 if block.compact else LINE,
        text_align="CENTER" if block.compact else "LEFT",
        headings_style=FontFace(emphasis="BOLD", fill_color=HEADING_FILL),
        padding=0.8 if block.compact else 1.2,
        repeat_headings=1,
    ) as table:
        heading = table.row()
        for text in block.header:
            heading.cell(text)
        for cells in block.rows:
            row = table.row()
            for text in cells:
                row.cell(text or " ")
    pdf.ln(2)


def _bullets(pdf: _FormPDF, block: Bullets) -> None:
    pdf.set_font(FONT, "", BODY_SIZE)
    for number, item in enumerate(block.items, start=1):
        marker = f"{number}." if block.numbered else "-"
        pdf.set_x(pdf.l_margin + 2)
        pdf.cell(7, LINE, marker)
        pdf.multi_cell(pdf.epw - 9, LINE, item, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)


def _signatures(pdf: _FormPDF, block: Signatures) -> None:
    if block.statement:
        _paragraph(pdf, Paragraph(block.statement))
    for signatory in block.signatories:
        if pdf.will_page_break(SIGNATURE_HEIGHT):
            pdf.add_page()
        pdf.set_font(FONT, "B", BODY_SIZE)
        pdf.cell(0, LINE, signatory.role, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", BODY_SIZE)
        left = pdf.l_margin
        y = pdf.get_y() + 2
        pdf.set_xy(left, y)
        pdf.cell(14, 7, "Name:")
        if signatory.name:
            pdf.cell(76, 7, signatory.name)
        pdf.line(left + 14, y + 6, left + 90, y + 6)
        pdf.set_xy(left + 95, y)
        pdf.cell(20, 7, "Signature:")
        pdf.line(left + 115, y + 6, left + pdf.epw, y + 6)
        y += 9
        pdf.set_xy(left, y)
        pdf.cell(14, 7, "Date:")
        pdf.line(left + 14, y + 6, left + 60, y + 6)
        pdf.set_xy(left, y + 10)
    pdf.ln(1)
