"""Project documents written from the registry's data (issue #18): the project design document
(项目设计文件), the monitoring report (监测报告) and the verifier's workbooks, as Word, Excel and PDF.

Every document is first built as a :class:`~registry.documents.model.Document` — headings,
paragraphs, tables, figures, equations and notes, each figure taken from the registry — and then
rendered: Word by :mod:`registry.documents.docx_render`, HTML and PDF by
:mod:`registry.documents.pdf_render`. The builders never format for one output; the renderers
never compute a figure.
"""
