//! `dmi`: BIOS, board, chassis, manufacturer, product.
//!
//! Source: `/sys/class/dmi/id/<file>` (stripped; empty or unreadable files, such as
//! `product_serial` for non-root, are absent). Absent as a whole without `/sys/class/dmi`.

use serde_json::{Map, Value};

use super::{Sources, System, insert_path, s};
use crate::FactsError;

/// `(fact path, file)` pairs.
pub const FILES: &[(&[&str], &str)] = &[
    (&["bios", "release_date"], "bios_date"),
    (&["bios", "vendor"], "bios_vendor"),
    (&["bios", "version"], "bios_version"),
    (&["board", "asset_tag"], "board_asset_tag"),
    (&["board", "manufacturer"], "board_vendor"),
    (&["board", "product"], "board_name"),
    (&["board", "serial_number"], "board_serial"),
    (&["chassis", "asset_tag"], "chassis_asset_tag"),
    (&["chassis", "type"], "chassis_type"),
    (&["manufacturer"], "sys_vendor"),
    (&["product", "name"], "product_name"),
    (&["product", "serial_number"], "product_serial"),
    (&["product", "uuid"], "product_uuid"),
];

const CHASSIS: [Option<&str>; 36] = [
    Some("Other"),
    None,
    Some("Desktop"),
    Some("Low Profile Desktop"),
    Some("Pizza Box"),
    Some("Mini Tower"),
    Some("Tower"),
    Some("Portable"),
    Some("Laptop"),
    Some("Notebook"),
    Some("Hand Held"),
    Some("Docking Station"),
    Some("All in One"),
    Some("Sub Notebook"),
    Some("Space-Saving"),
    Some("Lunch Box"),
    Some("Main System Chassis"),
    Some("Expansion Chassis"),
    Some("SubChassis"),
    Some("Bus Expansion Chassis"),
    Some("Peripheral Chassis"),
    Some("Storage Chassis"),
    Some("Rack Mount Chassis"),
    Some("Sealed-Case PC"),
    Some("Multi-system"),
    Some("CompactPCI"),
    Some("AdvancedTCA"),
    Some("Blade"),
    Some("Blade Enclosure"),
    Some("Tablet"),
    Some("Convertible"),
    Some("Detachable"),
    None,
    None,
    None,
    None,
];

/// The chassis type name for the number in `chassis_type`.
pub fn chassis_type(number: &str) -> Option<&'static str> {
    let n: usize = number.trim().parse().ok()?;
    CHASSIS.get(n.checked_sub(1)?).copied().flatten()
}

/// Reads one DMI file as facter does.
pub fn read(sources: &Sources, file: &str) -> Option<String> {
    sources.attr(&format!("/sys/class/dmi/id/{file}"))
}

/// Collects `dmi`.
pub fn collect(
    sources: &Sources,
    _system: &dyn System,
    facts: &mut Map<String, Value>,
) -> Result<(), FactsError> {
    if !sources.exists("/sys/class/dmi") {
        return Ok(());
    }
    let mut dmi = Map::new();
    for (path, file) in FILES {
        let Some(mut value) = read(sources, file) else {
            continue;
        };
        if *file == "chassis_type" {
            match chassis_type(&value) {
                Some(name) => value = name.to_string(),
                None => continue,
            }
        }
        insert_path(&mut dmi, path, s(value));
    }
    facts.insert("dmi".into(), Value::Object(dmi));
    Ok(())
}
