//! Walks Python values and writes the text of `json.dumps(value, sort_keys=True,
//! separators=(",", ":"))` with `sentinel_core::stdlib_json` (the control records' digest).
//!
//! The walk reads the containers through the C API with borrowed references: a busy
//! iteration's record holds thousands of small dicts, and taking a counted reference (a
//! `Bound`) for every key and value cost about half of the encoder's time. Borrowing is
//! sound here because nothing the walk calls while it goes on can run Python code: only
//! exact built-in types are read (a subclass, whose methods could run code, is handed
//! back), through functions that read them and raise nothing (`PyDict_Next`,
//! `PyList_GetItem`, `PyLong_AsLongLongAndOverflow`, `PyFloat_AsDouble`, and
//! `PyUnicode_AsUTF8AndSize` on a string it can encode); so no container changes while it
//! is walked and every borrowed object stays alive, held by its container, which the
//! caller holds. The two calls that can raise (a lone surrogate's UTF-8, an int of 2**64
//! or more) end the walk at once: making the exception can start a collection, whose
//! finalizers may change anything (Python 3.11 collects right there), so nothing borrowed
//! is touched after them.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString};
use sentinel_core::stdlib_json::{write_ascii_string, write_repr_f64};
use smallvec::SmallVec;

/// Nesting deeper than this is left to the standard library (which also finds cycles).
const MAX_DEPTH: usize = 64;
/// Members of a dict kept on the stack while it is written (more spill to the heap).
const SMALL_DICT: usize = 12;

/// The UTF-8 text of an exact `str`, or `None` for one with a lone surrogate (the error
/// that raises is cleared: the standard library escapes such a string itself).
///
/// # Safety
/// The GIL is held and `object` is an exact `str` that outlives the returned slice.
unsafe fn utf8<'a>(object: *mut ffi::PyObject) -> Option<&'a [u8]> {
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `object` is a live exact str (the caller's promise); the pointer returned
    // is its cached UTF-8, valid while the string lives.
    let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(object, &raw mut size) };
    if data.is_null() {
        // SAFETY: the GIL is held; the error just raised is this call's own.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    let size = usize::try_from(size).ok()?;
    // SAFETY: `data` points to `size` bytes of valid UTF-8 owned by the string.
    Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) })
}

/// Whether `object`'s type is exactly `kind`.
///
/// # Safety
/// `object` is a live object.
unsafe fn is_exactly(object: *mut ffi::PyObject, kind: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: a live object's type pointer is always readable.
    unsafe { ffi::Py_TYPE(object) == kind }
}

/// How a walk writes: `verbatim` writes an exact `bytes` that is a value of the top-level
/// dict as it is (JSON text written before: a record's verification and action entries);
/// any other `bytes`, and every `bytes` without `verbatim`, is left to the standard library
/// (which refuses it: a `bytes` a caller put deeper, a detail say, is no JSON text).
#[derive(Clone, Copy)]
struct Walk {
    verbatim: bool,
}

/// Writes `value`; `false` when it holds something this encoder leaves to the standard
/// library (a subclass, a non-string key, an integer beyond 64 bits, deep nesting).
///
/// # Safety
/// The GIL is held and `value` is a live object held (directly or through containers) by
/// the caller for the whole call.
unsafe fn write_value(
    out: &mut Vec<u8>,
    value: *mut ffi::PyObject,
    depth: usize,
    walk: Walk,
) -> bool {
    // SAFETY (every block below): `value` is live (the caller's promise), only exact
    // built-in types are read, and the objects borrowed from a container stay alive
    // because nothing here runs Python code that could change the container.
    unsafe {
        if is_exactly(value, &raw mut ffi::PyUnicode_Type) {
            let Some(text) = utf8(value) else {
                return false; // a lone surrogate: the standard library escapes it
            };
            // A str's UTF-8 is valid UTF-8.
            write_ascii_string(out, std::str::from_utf8_unchecked(text));
        } else if is_exactly(value, &raw mut ffi::PyLong_Type) {
            return write_int(out, value);
        } else if value == ffi::Py_None() {
            out.extend_from_slice(b"null");
        } else if value == ffi::Py_True() {
            out.extend_from_slice(b"true");
        } else if value == ffi::Py_False() {
            out.extend_from_slice(b"false");
        } else if is_exactly(value, &raw mut ffi::PyFloat_Type) {
            write_repr_f64(out, ffi::PyFloat_AsDouble(value));
        } else if is_exactly(value, &raw mut ffi::PyDict_Type) {
            return depth < MAX_DEPTH && write_dict(out, value, depth, walk);
        } else if is_exactly(value, &raw mut ffi::PyList_Type) {
            return depth < MAX_DEPTH && write_items(out, value, depth, walk, ffi::PyList_GetItem);
        } else if is_exactly(value, &raw mut ffi::PyTuple_Type) {
            return depth < MAX_DEPTH && write_items(out, value, depth, walk, ffi::PyTuple_GetItem);
        } else if walk.verbatim && depth == 1 && is_exactly(value, &raw mut ffi::PyBytes_Type) {
            // An exact bytes: its buffer and size are read, which raises nothing.
            let data = ffi::PyBytes_AsString(value);
            let size = usize::try_from(ffi::PyBytes_Size(value)).unwrap_or(0);
            out.extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), size));
        } else {
            return false;
        }
    }
    true
}

/// An exact `int` in decimal; `false` beyond 64 bits (signed or unsigned).
///
/// # Safety
/// The GIL is held and `value` is a live exact `int`.
unsafe fn write_int(out: &mut Vec<u8>, value: *mut ffi::PyObject) -> bool {
    let mut text = itoa::Buffer::new();
    let mut overflow: std::os::raw::c_int = 0;
    // SAFETY: an exact int: the signed conversion reports an overflow through `overflow`
    // and raises nothing (an exception made here could start a collection, whose
    // finalizers could change what the walk borrows); the unsigned one is tried only for
    // a positive overflow, and when it raises (2**64 and more) the walk ends at once,
    // touching nothing it borrowed.
    unsafe {
        let signed = ffi::PyLong_AsLongLongAndOverflow(value, &raw mut overflow);
        if overflow == 0 {
            if signed == -1 && !ffi::PyErr_Occurred().is_null() {
                ffi::PyErr_Clear();
                return false;
            }
            out.extend_from_slice(text.format(signed).as_bytes());
            return true;
        }
        if overflow > 0 {
            let unsigned = ffi::PyLong_AsUnsignedLongLong(value);
            if unsigned != u64::MAX || ffi::PyErr_Occurred().is_null() {
                out.extend_from_slice(text.format(unsigned).as_bytes());
                return true;
            }
            ffi::PyErr_Clear();
        }
    }
    false
}

/// An exact `dict`, its members in the order of their keys' code points.
///
/// # Safety
/// As for [`write_value`], with `dict` an exact `dict`.
unsafe fn write_dict(
    out: &mut Vec<u8>,
    dict: *mut ffi::PyObject,
    depth: usize,
    walk: Walk,
) -> bool {
    let mut members: SmallVec<[(&[u8], *mut ffi::PyObject); SMALL_DICT]> = SmallVec::new();
    let mut position: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut item: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: an exact dict walked with borrowed references (see the module's notes);
    // each key is checked to be an exact str before its text is read.
    unsafe {
        while ffi::PyDict_Next(dict, &raw mut position, &raw mut key, &raw mut item) != 0 {
            if !is_exactly(key, &raw mut ffi::PyUnicode_Type) {
                return false;
            }
            let Some(text) = utf8(key) else {
                return false;
            };
            members.push((text, item));
        }
    }
    // Python orders str by code point, which is the byte order of UTF-8.
    members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (n, &(text, item)) in members.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        // SAFETY: a key's UTF-8 (checked above) is valid UTF-8.
        write_ascii_string(out, unsafe { std::str::from_utf8_unchecked(text) });
        out.push(b':');
        // SAFETY: `item` is borrowed from the dict, which the caller holds unchanged.
        if !unsafe { write_value(out, item, depth + 1, walk) } {
            return false;
        }
    }
    out.push(b'}');
    true
}

/// An exact `list` or `tuple`, read with `get` (`PyList_GetItem` or `PyTuple_GetItem`).
///
/// # Safety
/// As for [`write_value`], with `items` an exact `list` or `tuple` matching `get`.
unsafe fn write_items(
    out: &mut Vec<u8>,
    items: *mut ffi::PyObject,
    depth: usize,
    walk: Walk,
    get: unsafe extern "C" fn(*mut ffi::PyObject, ffi::Py_ssize_t) -> *mut ffi::PyObject,
) -> bool {
    // SAFETY: the sequence's size and items are read while it cannot change; every index
    // is below its size, so `get` returns a borrowed live item.
    unsafe {
        let count = ffi::PyObject_Size(items);
        out.push(b'[');
        for index in 0..count {
            if index > 0 {
                out.push(b',');
            }
            if !write_value(out, get(items, index), depth + 1, walk) {
                return false;
            }
        }
    }
    out.push(b']');
    true
}

/// Whether `value` is an exact `str`, `int`, `float`, `bool` or None: a value nobody can
/// change after its text is written (a record's entry text written mid-step stays what its
/// dict holds at the step's end only when every value in it is such a one).
pub(crate) fn is_scalar(value: &Bound<'_, PyAny>) -> bool {
    value.is_none()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyBool>()
}

/// Whether `dict` is an exact `dict` whose values are all :func:`is_scalar` (its keys are
/// checked when it is written).
pub(crate) fn is_flat_dict(dict: &Bound<'_, PyAny>) -> bool {
    dict.is_exact_instance_of::<PyDict>()
        && dict
            .cast::<PyDict>()
            .is_ok_and(|dict| dict.values().iter().all(|value| is_scalar(&value)))
}

/// Writes the text of `json.dumps(value, sort_keys=True, separators=(",", ":"))` to `out`;
/// `false` (with `out` partly written) when the value holds something left to the
/// standard library.
pub(crate) fn write_json(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> bool {
    // SAFETY: the GIL is held (a `Bound`) and `value` is held by the caller for the call.
    unsafe { write_value(out, value.as_ptr(), 0, Walk { verbatim: false }) }
}

/// The bytes of `json.dumps(value, sort_keys=True, separators=(",", ":"))`, or None when
/// the value holds something left to the standard library. With `verbatim`, an exact
/// `bytes` that is a value of the top-level dict is JSON text written before, copied as it
/// is (only there: a `bytes` deeper is left to the standard library).
#[pyfunction]
#[pyo3(signature = (value, verbatim = false))]
pub(crate) fn stdlib_sorted_json<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
    verbatim: bool,
) -> Option<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(4096);
    // SAFETY: the GIL is held (`py`) and `value` is held by the caller for the call.
    // Only the values of a top-level dict are spliced (depth 1 of a dict, not of a list).
    let verbatim = verbatim && value.is_exact_instance_of::<PyDict>();
    let written = unsafe { write_value(&mut out, value.as_ptr(), 0, Walk { verbatim }) };
    written.then(|| PyBytes::new(py, &out))
}
