//! Go's `text/tabwriter` (elastic tabstops), which aligns Docker's `table` output.
//!
//! Cells are tab-terminated; tab-terminated cells in consecutive lines form a column whose
//! width is the widest cell plus `padding`, at least `minwidth`. The text after a line's last
//! tab is not part of any column and is never padded. Widths are terminal display widths (East
//! Asian wide characters count two), as in Docker's CLI, whose tabwriter uses go-runewidth.

use std::fmt;

use unicode_width::UnicodeWidthChar;

/// Formatting flags of Go's `tabwriter.Writer`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TabFlags {
    /// Right-align cell contents (`tabwriter.AlignRight`).
    pub align_right: bool,
    /// Treat columns of empty, soft-tab (`\v`) terminated cells as absent (`DiscardEmptyColumns`).
    pub discard_empty_columns: bool,
    /// Pad leading empty cells with tabs (`TabIndent`).
    pub tab_indent: bool,
    /// Print `|` between columns (`Debug`).
    pub debug: bool,
}

#[derive(Clone, Debug, Default)]
struct Cell {
    text: String,
    width: usize,
    htab: bool,
}

/// A buffering column aligner. Write text with [`TabWriter::write_str`] (or `fmt::Write`),
/// then take the aligned output with [`TabWriter::finish`] (Go's `Flush`).
#[derive(Debug)]
pub struct TabWriter {
    minwidth: usize,
    tabwidth: usize,
    padding: usize,
    padchar: char,
    flags: TabFlags,
    out: String,
    lines: Vec<Vec<Cell>>,
    cell: Cell,
    widths: Vec<usize>,
}

impl TabWriter {
    /// Go's `tabwriter.NewWriter(out, minwidth, tabwidth, padding, padchar, flags)`.
    pub fn new(
        minwidth: usize,
        tabwidth: usize,
        padding: usize,
        padchar: char,
        flags: TabFlags,
    ) -> Self {
        let mut flags = flags;
        if padchar == '\t' {
            // Tab padding enforces left alignment.
            flags.align_right = false;
        }
        TabWriter {
            minwidth,
            tabwidth,
            padding,
            padchar,
            flags,
            out: String::new(),
            lines: vec![Vec::new()],
            cell: Cell::default(),
            widths: Vec::new(),
        }
    }

    /// The writer Docker's table formatter uses: `NewWriter(out, 10, 1, 3, ' ', 0)`.
    pub fn docker() -> Self {
        TabWriter::new(10, 1, 3, ' ', TabFlags::default())
    }

    /// Buffers `text`; complete blocks are formatted as soon as they cannot change any more.
    pub fn write_str(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '\t' | '\x0b' | '\n' | '\x0c' => {
                    let cells = self.terminate_cell(c == '\t');
                    if c == '\n' || c == '\x0c' {
                        self.lines.push(Vec::new());
                        if c == '\x0c' || cells == 1 {
                            // A line with a single cell does not affect the columns of the
                            // lines after it, so everything before it can be written now.
                            self.flush_lines();
                        }
                    }
                }
                c => {
                    self.cell.text.push(c);
                    self.cell.width += c.width().unwrap_or(0);
                }
            }
        }
    }

    /// Go's `Flush`: formats everything buffered and returns the complete output.
    pub fn finish(mut self) -> String {
        if !self.cell.text.is_empty() {
            self.terminate_cell(false);
        }
        self.flush_lines();
        self.out
    }

    fn terminate_cell(&mut self, htab: bool) -> usize {
        let mut cell = std::mem::take(&mut self.cell);
        cell.htab = htab;
        let line = self.current_line();
        line.push(cell);
        line.len()
    }

    fn current_line(&mut self) -> &mut Vec<Cell> {
        if self.lines.is_empty() {
            self.lines.push(Vec::new());
        }
        let last = self.lines.len() - 1;
        &mut self.lines[last]
    }

    fn flush_lines(&mut self) {
        let line_count = self.lines.len();
        self.format(0, line_count);
        self.lines = vec![Vec::new()];
        self.widths.clear();
    }

    /// Number of column cells in a line: every cell but the last.
    fn column_cells(&self, line: usize) -> usize {
        self.lines[line].len().saturating_sub(1)
    }

    fn format(&mut self, line0: usize, line1: usize) {
        let mut line0 = line0;
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column >= self.column_cells(this) {
                this += 1;
                continue;
            }
            // This line has a cell in this column: a column block starts here.
            self.write_lines(line0, this);
            line0 = this;
            let mut width = self.minwidth;
            let mut discardable = true;
            while this < line1 && column < self.column_cells(this) {
                let cell = &self.lines[this][column];
                width = width.max(cell.width + self.padding);
                if cell.width > 0 || cell.htab {
                    discardable = false;
                }
                this += 1;
            }
            if discardable && self.flags.discard_empty_columns {
                width = 0;
            }
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
            // Like Go, the line that ended the block is not examined again.
            this += 1;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for i in line0..line1 {
            let mut use_tabs = self.flags.tab_indent;
            for j in 0..self.lines[i].len() {
                if j > 0 && self.flags.debug {
                    self.out.push('|');
                }
                let (width, empty) = {
                    let cell = &self.lines[i][j];
                    (cell.width, cell.text.is_empty())
                };
                let column_width = self.widths.get(j).copied();
                if empty {
                    if let Some(cw) = column_width {
                        self.write_padding(width, cw, use_tabs);
                    }
                } else {
                    use_tabs = false;
                    if self.flags.align_right {
                        if let Some(cw) = column_width {
                            self.write_padding(width, cw, false);
                        }
                        let text = std::mem::take(&mut self.lines[i][j].text);
                        self.out.push_str(&text);
                    } else {
                        let text = std::mem::take(&mut self.lines[i][j].text);
                        self.out.push_str(&text);
                        if let Some(cw) = column_width {
                            self.write_padding(width, cw, false);
                        }
                    }
                }
            }
            if i + 1 < self.lines.len() {
                self.out.push('\n');
            }
        }
    }

    fn write_padding(&mut self, text_width: usize, cell_width: usize, use_tabs: bool) {
        if self.padchar == '\t' || use_tabs {
            if self.tabwidth == 0 {
                return;
            }
            let cell_width = cell_width.div_ceil(self.tabwidth) * self.tabwidth;
            let n = cell_width.saturating_sub(text_width);
            for _ in 0..n.div_ceil(self.tabwidth) {
                self.out.push('\t');
            }
            return;
        }
        for _ in 0..cell_width.saturating_sub(text_width) {
            self.out.push(self.padchar);
        }
    }
}

impl fmt::Write for TabWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        TabWriter::write_str(self, s);
        Ok(())
    }
}
