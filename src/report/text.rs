//! Text helpers shared by the human renderers.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};

/// A borderless table in the style of `cargo tree`/`kubectl get`: header row,
/// columns separated by spaces, numbers right-aligned by the caller.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(Cell::new));
    for i in 0..header.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_padding((0, 2));
        }
    }
    t
}

/// Right-align the given columns.
pub fn align_right(t: &mut Table, cols: &[usize]) {
    for &i in cols {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Render with trailing spaces trimmed from each line.
pub fn render(t: &Table) -> String {
    let mut out = String::new();
    for line in t.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Chat messages as `role:` (coloured) then the content, a blank line
/// between messages.
pub fn messages(ui: &crate::ui::Ui, messages: &[crate::prompt::message::Message]) -> String {
    let mut out = String::new();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&ui.paint(crate::ui::CYAN, format!("{}:", m.role)));
        out.push('\n');
        out.push_str(&m.content);
        out.push('\n');
    }
    out
}
