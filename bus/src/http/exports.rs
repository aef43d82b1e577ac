//! A report as a file: CSV (RFC 4180, UTF-8 with a byte-order mark so that Excel reads the
//! Vietnamese right) or an Excel workbook, one table each, its columns named as the platforms
//! that receive these reports name them.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{Format, Workbook};

use super::problem::Problem;

/// One value of a table.
pub enum Cell {
    Text(String),
    Count(u64),
    Percent(f64),
    Empty,
}

impl From<Option<String>> for Cell {
    fn from(text: Option<String>) -> Self {
        text.map_or(Cell::Empty, Cell::Text)
    }
}

pub struct Table {
    /// The sheet's name (at most 31 characters, as Excel allows).
    pub sheet: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// How a report is answered: JSON (the default), `csv` or `xlsx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
    Xlsx,
}

/// The table as a download named `{name}.csv` or `{name}.xlsx`.
pub fn download(table: &Table, format: ReportFormat, name: &str) -> Response {
    let built = match format {
        ReportFormat::Csv => csv(table).map(|body| (body, "text/csv; charset=utf-8", "csv")).map_err(|e| e.to_string()),
        ReportFormat::Xlsx | ReportFormat::Json => xlsx(table)
            .map(|body| (body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"))
            .map_err(|e| e.to_string()),
    };
    match built {
        Ok((body, media_type, extension)) => {
            let disposition = format!("attachment; filename=\"{name}.{extension}\"");
            ([(header::CONTENT_TYPE, media_type.to_string()), (header::CONTENT_DISPOSITION, disposition)], body)
                .into_response()
        }
        Err(e) => Problem::unavailable(format!("the report could not be written: {e}")).into_response(),
    }
}

fn csv(table: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(&table.columns)?;
    for row in &table.rows {
        writer.write_record(row.iter().map(|cell| match cell {
            Cell::Text(text) => text.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Percent(p) => format!("{p:.2}"),
            Cell::Empty => String::new(),
        }))?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

fn xlsx(table: &Table) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(table.sheet.chars().take(31).collect::<String>())?;
    let (bold, percent) = (Format::new().set_bold(), Format::new().set_num_format("0.00"));
    for (column, name) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(0, column as u16, *name, &bold)?;
    }
    for (index, row) in table.rows.iter().enumerate() {
        let line = index as u32 + 1;
        for (column, cell) in row.iter().enumerate() {
            let column = column as u16;
            match cell {
                Cell::Text(text) => sheet.write_string(line, column, text)?,
                Cell::Count(n) => sheet.write_number(line, column, *n as f64)?,
                Cell::Percent(p) => sheet.write_number_with_format(line, column, *p, &percent)?,
                Cell::Empty => sheet,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    workbook.save_to_buffer()
}
