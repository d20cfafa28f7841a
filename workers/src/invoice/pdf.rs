//! The invoice as a PDF: one A4 page (more for long orders) written with the standard Type 1
//! fonts Helvetica and Courier in WinAnsi encoding, so no font is embedded and the text can be
//! extracted and searched.

use chrono::{DateTime, Utc};
use lopdf::{
    Document, Object, Stream,
    content::{Content, Operation},
    dictionary,
};
use shop_core::domain::{AddressSnapshot, money::Currency, money::Money};

/// Everything printed on an invoice.
#[derive(Debug, Clone)]
pub struct InvoiceDocument {
    /// The seller's name and address, one line each.
    pub seller: Vec<String>,
    pub number: String,
    pub issued_at: DateTime<Utc>,
    pub order_id: String,
    /// The order's readable number (`SO-2026-000123`), what the customer knows it by.
    pub order_number: String,
    pub ordered_at: DateTime<Utc>,
    /// The billing address, one line each.
    pub bill_to: Vec<String>,
    pub currency: Currency,
    pub lines: Vec<InvoiceLine>,
    pub subtotal_minor: i64,
    /// Rows between the subtotal and the tax (a coupon's discount, negative), label and amount.
    pub adjustments: Vec<(String, i64)>,
    pub tax_minor: i64,
    pub total_minor: i64,
}

/// One line item.
#[derive(Debug, Clone)]
pub struct InvoiceLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
}

/// The address lines of a snapshot, empty parts left out.
pub fn address_lines(address: &AddressSnapshot) -> Vec<String> {
    let locality = [
        address.city.as_str(),
        address.region.as_str(),
        address.postal_code.as_str(),
    ]
    .into_iter()
    .filter(|part| !part.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    [
        address.recipient.clone(),
        address.line1.clone(),
        address.line2.clone(),
        locality,
        address.country.to_uppercase(),
        address.phone.clone(),
    ]
    .into_iter()
    .filter(|line| !line.trim().is_empty())
    .collect()
}

const PAGE_WIDTH: i64 = 595;
const PAGE_HEIGHT: i64 = 842;
const LEFT: f32 = 50.0;
const RIGHT: f32 = 545.0;
const BOTTOM: f32 = 80.0;
const ROW: f32 = 14.0;
/// Courier's advance width is 600/1000 of the font size for every glyph.
const COURIER_ADVANCE: f32 = 0.6;

#[derive(Clone, Copy)]
enum Font {
    Regular,
    Bold,
    Mono,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Self::Regular => "F1",
            Self::Bold => "F2",
            Self::Mono => "F3",
        }
    }
}

/// Text in WinAnsi (Windows-1252): Latin-1 as is, the euro sign, anything else as `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            _ => b'?',
        })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(3)).collect();
    short.push_str("...");
    short
}

fn money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).to_string()
}

/// The pages being written: each page's content operations.
struct Pages {
    pages: Vec<Vec<Operation>>,
    y: f32,
}

impl Pages {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: PAGE_HEIGHT as f32 - 60.0,
        }
    }

    fn ops(&mut self) -> &mut Vec<Operation> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn text_at(&mut self, x: f32, y: f32, font: Font, size: f32, text: &str) {
        let ops = self.ops();
        ops.push(Operation::new("BT", vec![]));
        ops.push(Operation::new(
            "Tf",
            vec![font.resource().into(), Object::Real(size)],
        ));
        ops.push(Operation::new("Td", vec![Object::Real(x), Object::Real(y)]));
        ops.push(Operation::new(
            "Tj",
            vec![Object::string_literal(win_ansi(text))],
        ));
        ops.push(Operation::new("ET", vec![]));
    }

    /// Courier text whose right edge is at `right`.
    fn mono_right(&mut self, right: f32, y: f32, size: f32, text: &str) {
        let width = text.chars().count() as f32 * size * COURIER_ADVANCE;
        self.text_at(right - width, y, Font::Mono, size, text);
    }

    fn rule(&mut self, y: f32) {
        let ops = self.ops();
        ops.push(Operation::new("w", vec![Object::Real(0.5)]));
        ops.push(Operation::new(
            "m",
            vec![Object::Real(LEFT), Object::Real(y)],
        ));
        ops.push(Operation::new(
            "l",
            vec![Object::Real(RIGHT), Object::Real(y)],
        ));
        ops.push(Operation::new("S", vec![]));
    }

    /// Moves down one row, starting a new page when this one is full.
    fn next_row(&mut self, number: &str) {
        self.y -= ROW;
        if self.y < BOTTOM {
            self.pages.push(Vec::new());
            self.y = PAGE_HEIGHT as f32 - 60.0;
            self.text_at(
                LEFT,
                self.y,
                Font::Bold,
                10.0,
                &format!("Invoice {number} (continued)"),
            );
            self.y -= 2.0 * ROW;
        }
    }
}

const COL_QTY: f32 = 380.0;
const COL_UNIT: f32 = 465.0;

fn table_header(pages: &mut Pages) {
    let y = pages.y;
    pages.text_at(LEFT, y, Font::Bold, 9.0, "SKU");
    pages.text_at(140.0, y, Font::Bold, 9.0, "Item");
    pages.text_at(COL_QTY - 20.0, y, Font::Bold, 9.0, "Qty");
    pages.text_at(COL_UNIT - 50.0, y, Font::Bold, 9.0, "Unit price");
    pages.text_at(RIGHT - 50.0, y, Font::Bold, 9.0, "Line total");
    pages.rule(y - 4.0);
}

/// Renders `invoice` as PDF bytes.
pub fn render(invoice: &InvoiceDocument) -> Result<Vec<u8>, lopdf::Error> {
    let mut pages = Pages::new();
    let top = pages.y;
    pages.text_at(LEFT, top, Font::Bold, 20.0, "INVOICE");
    // The seller, top right.
    let mut y = top;
    for line in &invoice.seller {
        pages.text_at(340.0, y, Font::Regular, 10.0, line);
        y -= ROW;
    }
    // Invoice facts, left.
    let date = |at: DateTime<Utc>| at.format("%Y-%m-%d").to_string();
    let facts = [
        ("Invoice number", invoice.number.clone()),
        ("Issue date", date(invoice.issued_at)),
        ("Order date", date(invoice.ordered_at)),
        ("Order", invoice.order_number.clone()),
        ("Order id", invoice.order_id.clone()),
    ];
    let mut left_y = top - 2.0 * ROW;
    for (label, value) in &facts {
        pages.text_at(LEFT, left_y, Font::Bold, 10.0, label);
        pages.text_at(LEFT + 90.0, left_y, Font::Regular, 10.0, value);
        left_y -= ROW;
    }
    pages.y = left_y.min(y) - ROW;
    pages.text_at(LEFT, pages.y, Font::Bold, 10.0, "Bill to");
    for line in &invoice.bill_to {
        pages.y -= ROW;
        pages.text_at(LEFT, pages.y, Font::Regular, 10.0, line);
    }
    pages.y -= 2.0 * ROW;
    table_header(&mut pages);
    for line in &invoice.lines {
        pages.next_row(&invoice.number);
        let y = pages.y;
        pages.text_at(LEFT, y, Font::Mono, 9.0, &truncate(&line.sku, 16));
        pages.text_at(140.0, y, Font::Regular, 9.0, &truncate(&line.name, 38));
        pages.mono_right(COL_QTY, y, 9.0, &line.quantity.to_string());
        pages.mono_right(
            COL_UNIT,
            y,
            9.0,
            &money(line.unit_price_minor, invoice.currency),
        );
        pages.mono_right(
            RIGHT,
            y,
            9.0,
            &money(line.line_total_minor, invoice.currency),
        );
    }
    pages.next_row(&invoice.number);
    pages.rule(pages.y + 8.0);
    let adjustments = invoice
        .adjustments
        .iter()
        .map(|(label, minor)| (label.as_str(), *minor, Font::Regular));
    let totals = std::iter::once(("Subtotal", invoice.subtotal_minor, Font::Regular))
        .chain(adjustments)
        .chain([
            ("Tax", invoice.tax_minor, Font::Regular),
            ("Total", invoice.total_minor, Font::Bold),
        ]);
    for (label, minor, font) in totals {
        pages.next_row(&invoice.number);
        let y = pages.y;
        pages.text_at(COL_UNIT - 50.0, y, font, 10.0, label);
        pages.mono_right(RIGHT, y, 10.0, &money(minor, invoice.currency));
    }
    write(pages.pages)
}

fn write(contents: Vec<Vec<Operation>>) -> Result<Vec<u8>, lopdf::Error> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = |doc: &mut Document, name: &str| {
        doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => Object::Name(name.as_bytes().to_vec()),
            "Encoding" => "WinAnsiEncoding",
        })
    };
    let regular = font(&mut doc, "Helvetica");
    let bold = font(&mut doc, "Helvetica-Bold");
    let mono = font(&mut doc, "Courier");
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => regular, "F2" => bold, "F3" => mono },
    });
    let mut kids = Vec::with_capacity(contents.len());
    for operations in contents {
        let content = Content { operations }.encode()?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(Object::Reference(page_id));
    }
    let count = i64::try_from(kids.len()).unwrap_or(i64::MAX);
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), PAGE_WIDTH.into(), PAGE_HEIGHT.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.compress();
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes)?;
    Ok(bytes)
}
