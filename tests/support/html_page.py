"""Read an HTML page the way a person would: the text of each cell of a table with an id, and
the text of any element with an id (entities decoded, whitespace collapsed)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of open elements with an id

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element_id = dict(attrs).get("id")
        if tag == "table" and element_id:
            self._table = element_id
            self.tables[element_id] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        if element_id and tag not in ("br", "input"):
            self._open.append((tag, element_id))
            self.texts[element_id] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None
        if self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _tag, element_id in self._open:
            if element_id:
                self.texts[element_id] += data


class Page:
    def __init__(self, html: str) -> None:
        reader = _Reader()
        reader.feed(html)
        self.tables = reader.tables
        self.texts = {key: " ".join(value.split()) for key, value in reader.texts.items()}

    def rows(self, table: str) -> list[list[str]]:
        """The rows of table ``table`` below its header row."""
        return self.tables[table][1:]

    def row(self, table: str, first_cell: str) -> list[str]:
        """The row of ``table`` whose first cell starts with ``first_cell``."""
        found = [row for row in self.rows(table) if row and row[0].startswith(first_cell)]
        assert len(found) == 1, f"{len(found)} rows of {table} start with {first_cell!r}"
        return found[0]

    def text(self, element_id: str) -> str:
        return self.texts[element_id]
