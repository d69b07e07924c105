//! Message type supports loaded at run time, the way rclpy finds them: any message type
//! installed on the machine can be subscribed or published without rebuilding vla_perf.
//!
//! A type `pkg/msg/Type` is served by `lib<pkg>__rosidl_typesupport_c.so`, whose function
//! `rosidl_typesupport_c__get_message_type_support_handle__<pkg>__msg__<Type>` returns the
//! handle rcl takes. That handle dispatches to the type support of whichever RMW is loaded.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use r2r::rosidl_message_type_support_t;

use crate::transport::{Error, Result};

/// A type support handle. It points into a library that is never unloaded.
#[derive(Debug, Clone, Copy)]
pub struct TypeSupport(pub *const rosidl_message_type_support_t);

// SAFETY: the handle is immutable static data of a library that stays loaded for the life
// of the process (libraries are leaked below); rcl reads it from any thread.
unsafe impl Send for TypeSupport {}
unsafe impl Sync for TypeSupport {}

/// Handles loaded so far, by type name.
static LOADED: Mutex<Option<HashMap<String, TypeSupport>>> = Mutex::new(None);

/// The `(package, type)` of `pkg/msg/Type`.
pub fn split_type_name(type_name: &str) -> Result<(&str, &str)> {
    let invalid = |reason: &str| Error::Name {
        what: "type",
        name: type_name.to_owned(),
        reason: reason.to_owned(),
    };
    let parts: Vec<&str> = type_name.split('/').collect();
    let (package, name) = match parts.as_slice() {
        [package, "msg", name] => (*package, *name),
        _ => return Err(invalid("expected pkg/msg/Type")),
    };
    let identifier = |s: &str| {
        !s.is_empty()
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !identifier(package) || !identifier(name) {
        return Err(invalid(
            "package and type must be letters, digits and '_', not starting with a digit",
        ));
    }
    Ok((package, name))
}

/// The library file that holds the C type supports of `package`.
pub fn library_file(package: &str) -> String {
    format!("lib{package}__rosidl_typesupport_c.so")
}

/// Where to look for `file`: `<prefix>/lib/<file>` for every prefix of `ament_prefix_path`
/// that has it, then the bare name, which the dynamic loader looks up on `LD_LIBRARY_PATH`.
pub fn library_candidates(file: &str, ament_prefix_path: Option<OsString>) -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = ament_prefix_path
        .iter()
        .flat_map(std::env::split_paths)
        .map(|prefix| prefix.join("lib").join(file))
        .filter(|path| path.is_file())
        .collect();
    candidates.push(PathBuf::from(file));
    candidates
}

/// The type support of `type_name` (`pkg/msg/Type`), loading its library on first use.
pub fn load(type_name: &str) -> Result<TypeSupport> {
    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    let loaded = loaded.get_or_insert_with(HashMap::new);
    if let Some(found) = loaded.get(type_name) {
        return Ok(*found);
    }
    let (package, name) = split_type_name(type_name)?;
    let file = library_file(package);
    let unknown = |reason: String| Error::Name {
        what: "type",
        name: type_name.to_owned(),
        reason,
    };
    let mut failures = Vec::new();
    let library = library_candidates(&file, std::env::var_os("AMENT_PREFIX_PATH"))
        .into_iter()
        .find_map(|path| {
            // SAFETY: a rosidl type support library runs no initialisers beyond the C++
            // runtime's; this is what rclpy and rclcpp's generic subscriptions do too.
            match unsafe { libloading::Library::new(&path) } {
                Ok(library) => Some(library),
                Err(e) => {
                    failures.push(e.to_string());
                    None
                }
            }
        })
        .ok_or_else(|| {
            unknown(format!(
                "cannot load {file} from AMENT_PREFIX_PATH or LD_LIBRARY_PATH ({}): install \
                 the package that defines it and source its setup file",
                failures.join("; ")
            ))
        })?;
    let symbol =
        format!("rosidl_typesupport_c__get_message_type_support_handle__{package}__msg__{name}");
    // SAFETY: rosidl generates this function with exactly this signature.
    let handle = unsafe {
        let get = library
            .get::<unsafe extern "C" fn() -> *const rosidl_message_type_support_t>(
                symbol.as_bytes(),
            )
            .map_err(|_| unknown(format!("package {package} ({file}) has no message {name}")))?;
        get()
    };
    if handle.is_null() {
        return Err(unknown(format!("{symbol} returned no type support")));
    }
    // Endpoints keep pointers into the library: it must stay loaded for good.
    std::mem::forget(library);
    let support = TypeSupport(handle);
    loaded.insert(type_name.to_owned(), support);
    Ok(support)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_split_into_package_and_type() {
        assert_eq!(
            split_type_name("sensor_msgs/msg/Image").unwrap(),
            ("sensor_msgs", "Image")
        );
        for bad in [
            "sensor_msgs/Image",
            "sensor_msgs/srv/Image",
            "a/msg/b/c",
            "/msg/X",
            "pkg/msg/",
            "pkg/msg/Ty-pe",
            "9pkg/msg/T",
            "pkg/msg/T\0",
        ] {
            let err = split_type_name(bad).unwrap_err().to_string();
            assert!(err.contains("type") && err.contains(bad), "{bad:?}: {err}");
        }
    }

    #[test]
    fn libraries_are_looked_up_under_each_prefix_that_has_them_then_by_bare_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(b.join("lib")).unwrap();
        std::fs::create_dir_all(&a).unwrap();
        let file = library_file("my_msgs");
        assert_eq!(file, "libmy_msgs__rosidl_typesupport_c.so");
        std::fs::write(b.join("lib").join(&file), b"").unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(
            library_candidates(&file, Some(path)),
            vec![b.join("lib").join(&file), PathBuf::from(&file)]
        );
        assert_eq!(library_candidates(&file, None), vec![PathBuf::from(&file)]);
    }

    #[test]
    fn a_type_nobody_installed_is_a_clear_error_naming_the_library() {
        let err = load("no_such_pkg_here/msg/Nothing")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("libno_such_pkg_here__rosidl_typesupport_c.so"),
            "{err}"
        );
    }
}
