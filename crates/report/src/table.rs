//! Aligned text tables: first column left-aligned, numbers right-aligned.

pub struct Table {
    heading: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    note: Option<String>,
}

impl Table {
    pub fn new(heading: &str, header: &[&str]) -> Self {
        Self {
            heading: heading.to_string(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
            note: None,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn note(&mut self, text: &str) {
        self.note = Some(text.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = format!("{}\n", self.heading);
        if let Some(note) = &self.note {
            out += &format!("  {note}\n\n");
            return out;
        }
        let cols = self.header.len();
        let mut widths = vec![0usize; cols];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let header_blank = self.header.iter().all(|h| h.is_empty());
        let rows = std::iter::once(&self.header)
            .filter(|_| !header_blank)
            .chain(&self.rows);
        for row in rows {
            let mut line = String::from(" ");
            for (i, cell) in row.iter().enumerate().take(cols) {
                let pad = widths[i] - cell.chars().count();
                line.push(' ');
                if i == 0 {
                    line += cell;
                    line += &" ".repeat(pad);
                } else {
                    line += &" ".repeat(pad + 1);
                    line += cell;
                }
            }
            out += line.trim_end();
            out.push('\n');
        }
        out.push('\n');
        out
    }
}
