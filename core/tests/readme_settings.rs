//! The README's settings tables against the typed configuration, both ways: every variable the
//! README documents is a setting with exactly the documented default, and every setting is
//! documented. The tables are those whose first column is `variable` or `option / variable`
//! (Configuration, Backups, the `shop-workers` options and each worker's).

use std::collections::BTreeMap;

use shop_core::config::Config;

/// One documented variable: its default cell and the table it is in (for messages).
#[derive(Debug)]
struct Documented {
    default: String,
    table: String,
}

/// The cells of a table row, `\|` kept as a literal `|`.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(cell) = cells.last_mut() {
                    cell.push('|');
                }
            }
            '|' => cells.push(String::new()),
            _ => {
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    cells
        .into_iter()
        .map(|cell| cell.trim().to_owned())
        .collect()
}

/// The variables a first cell names: its code spans that look like one (`--only` is an option).
fn variables(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            span.contains('_')
                && span
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// Every variable in the settings tables, in order of appearance (a variable may appear in
/// several tables).
fn documented(readme: &str) -> Vec<(String, Documented)> {
    let mut found = Vec::new();
    let mut table: Option<String> = None;
    let mut heading = String::new();
    for line in readme.lines() {
        if line.starts_with('#') {
            heading = line.trim_start_matches('#').trim().to_owned();
        }
        if !line.starts_with('|') {
            table = None;
            continue;
        }
        let row = cells(line);
        if table.is_none() {
            if matches!(
                row.first().map(String::as_str),
                Some("variable" | "option / variable")
            ) {
                table = Some(heading.clone());
            }
            continue;
        }
        if row
            .iter()
            .all(|cell| cell.chars().all(|c| c == '-' || c == ' '))
        {
            continue;
        }
        let (Some(name_cell), Some(default_cell), Some(table)) = (row.first(), row.get(1), &table)
        else {
            panic!("a settings row has a name and a default: {line}");
        };
        let names = variables(name_cell);
        // `a`, `b` under two variables gives each its own default.
        let parts: Vec<&str> = default_cell.split(", ").collect();
        for (index, name) in names.iter().enumerate() {
            let default = if names.len() > 1 && parts.len() == names.len() {
                parts[index]
            } else {
                default_cell.as_str()
            };
            found.push((
                name.clone(),
                Documented {
                    default: default.to_owned(),
                    table: table.clone(),
                },
            ));
        }
    }
    found
}

#[test]
fn the_readme_documents_every_setting_with_its_default() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let documented = documented(&readme);
    assert!(
        documented.len() > 30,
        "the settings tables are found: {documented:?}"
    );
    let settings: BTreeMap<&str, String> = Config::settings()
        .iter()
        .map(|setting| (setting.name, setting.documented_default()))
        .collect();

    let mut wrong = Vec::new();
    for (name, doc) in &documented {
        match settings.get(name.as_str()) {
            None => wrong.push(format!(
                "{name} (table under \"{}\") is not a setting",
                doc.table
            )),
            // The broker that shop-api may go without is required by shop-workers, whose own
            // table says so; the code refusing to start without it is shop-workers' `amqp_url`.
            Some(_) if name == "AMQP_URL" && doc.table.contains("shop-workers") => {
                if doc.default != "required" {
                    wrong.push(format!(
                        "AMQP_URL is required by shop-workers, not {:?}",
                        doc.default
                    ));
                }
            }
            Some(default) if *default != doc.default => wrong.push(format!(
                "{name} (table under \"{}\"): the README says {:?}, the code {default:?}",
                doc.table, doc.default
            )),
            Some(_) => {}
        }
    }
    for name in settings.keys() {
        if !documented.iter().any(|(documented, _)| documented == name) {
            wrong.push(format!("{name} is a setting the README does not document"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn rows_are_read_as_written() {
    assert_eq!(
        cells("| `SHOP_INVOICE_SELLER` | `Shop\\|1 Way` | lines \\| here |"),
        ["`SHOP_INVOICE_SELLER`", "`Shop|1 Way`", "lines | here"]
    );
    assert_eq!(
        variables("`--concurrency` / `SHOP_WORKER_CONCURRENCY`"),
        ["SHOP_WORKER_CONCURRENCY"]
    );
    let pair = documented(
        "## Backups\n| variable | default | meaning |\n| --- | --- | --- |\n\
         | `SHOP_PG_DUMP`, `SHOP_PG_RESTORE` | `pg_dump`, `pg_restore` | Tools. |\n",
    );
    let defaults: Vec<(&str, &str)> = pair
        .iter()
        .map(|(name, doc)| (name.as_str(), doc.default.as_str()))
        .collect();
    assert_eq!(
        defaults,
        [
            ("SHOP_PG_DUMP", "`pg_dump`"),
            ("SHOP_PG_RESTORE", "`pg_restore`")
        ]
    );
}
