"""Draw a :class:`~assistant.documents.layout.Document` as a Word file (python-docx)."""

from __future__ import annotations

import re
from io import BytesIO

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table as DocxTable

from .layout import Block, Bullets, Document, Fields, Heading, Paragraph, Signatures, Table

GREY = RGBColor(0x5A, 0x5A, 0x5A)
# XML 1.0 forbids most control characters; a pasted one must not corrupt the file.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_docx(document: Document) -> bytes:
    doc = new_docx()
    section = doc.sections[0]
    section.left_margin = section.right_margin = Cm(1.8)
    section.top_margin = section.bottom_margin = Cm(1.6)
    doc.styles["Normal"].font.name = "Arial"
    doc.styles["Normal"].font.size = Pt(10)
    doc.core_properties.title = _clean(document.title)
    doc.core_properties.subject = _clean(document.subtitle)
    doc.core_properties.author = "Part-Time Timetable Assistant"

    head = section.header.paragraphs[0]
    head.text = _clean(document.running_head)
    head.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    doc.add_heading(_clean(document.title), level=0)
    if document.subtitle:
        subtitle = doc.add_paragraph()
        run = subtitle.add_run(_clean(document.subtitle))
        run.font.color.rgb = GREY
    for block in document.blocks:
        _draw(doc, block)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()


def _draw(doc: DocxDocument, block: Block) -> None:
    if isinstance(block, Heading):
        doc.add_heading(_clean(block.text), level=1)
    elif isinstance(block, Paragraph):
        _paragraph(doc, block)
    elif isinstance(block, Fields):
        _fields(doc, block)
    elif isinstance(block, Table):
        _table(doc, block)
    elif isinstance(block, Bullets):
        style = "List Number" if block.numbered else "List Bullet"
        for item in block.items:
            doc.add_paragraph(_clean(item), style=style)
    elif isinstance(block, Signatures):
        _signatures(doc, block)
    else:  # pragma: no cover - Block is a closed union
        raise TypeError(f"cannot draw {type(block).__name__}")


def _paragraph(doc: DocxDocument, block: Paragraph) -> None:
    paragraph = doc.add_paragraph()
    run = paragraph.add_run(_clean(block.text))
    if block.style == "strong":
        run.bold = True
    elif block.style == "quote":
        run.italic = True
        paragraph.paragraph_format.left_indent = Cm(0.8)
    elif block.style == "note":
        run.font.size = Pt(8.5)
        run.font.color.rgb = GREY


def _fields(doc: DocxDocument, block: Fields) -> None:
    if not block.rows:
        return
    table = _new_table(doc, rows=len(block.rows), cols=2)
    for row, (label, value) in zip(table.rows, block.rows, strict=True):
        row.cells[0].text = ""
        row.cells[0].paragraphs[0].add_run(_clean(label)).bold = True
        row.cells[1].text = _clean(value)
    _set_widths(table, (6.5, 11.0))
    doc.add_paragraph()


def _table(doc: DocxDocument, block: Table) -> None:
    table = _new_table(doc, rows=1 + len(block.rows), cols=len(block.header))
    for cell, text in zip(table.rows[0].cells, block.header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(_clean(text)).bold = True
    for row, cells in zip(table.rows[1:], block.rows, strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = _clean(text)
    if block.compact:
        for row in table.rows:
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
                    for run in paragraph.runs:
                        run.font.size = Pt(7)
    if block.widths:
        total = sum(block.widths)
        _set_widths(table, tuple(17.5 * width / total for width in block.widths))
    doc.add_paragraph()


def _signatures(doc: DocxDocument, block: Signatures) -> None:
    if block.statement:
        doc.add_paragraph(_clean(block.statement))
    table = _new_table(doc, rows=1 + len(block.signatories), cols=4)
    for cell, text in zip(table.rows[0].cells, ("Role", "Name", "Signature", "Date"), strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for row, signatory in zip(table.rows[1:], block.signatories, strict=True):
        row.height = Cm(1.3)
        row.cells[0].text = _clean(signatory.role)
        row.cells[1].text = _clean(signatory.name)
    _set_widths(table, (5.0, 4.5, 5.0, 3.0))
    doc.add_paragraph()


def _new_table(doc: DocxDocument, rows: int, cols: int) -> DocxTable:
    table = doc.add_table(rows=rows, cols=cols)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    return table


def _set_widths(table: DocxTable, widths_cm: tuple[float, ...]) -> None:
    table.autofit = False
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)
