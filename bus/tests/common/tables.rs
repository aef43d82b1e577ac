//! Competence tables for tests: a unit catalogue and rules, written beside a test bus's config.

use std::path::Path;

pub const UNITS: &str = r#"
[provinces.42]
name = "Hà Tĩnh"
[communes.18073]
name = "Xã Thạch Hà"
province = "42"
[communes.18100]
name = "Phường Thành Sen"
province = "42"
[districts.436]
name = "Huyện Thạch Hà"
province = "42"
now = "18073"
"#;

/// Đăng ký thường trú: the provincial department, province-wide.
pub const RULES: &str = r#"
[[rule]]
procedure = "1.001234"
unit = "42"
agency = "000.00.01.H42"
"#;

/// Writes the tables into `dir` and returns the `[routing]` section that points at them.
pub fn tables(dir: &Path) -> String {
    std::fs::write(dir.join("units.toml"), UNITS).unwrap();
    std::fs::write(dir.join("routing.toml"), RULES).unwrap();
    format!(
        "[routing]\nunits = \"{}\"\nrules = \"{}\"\n",
        dir.join("units.toml").display(),
        dir.join("routing.toml").display()
    )
}
