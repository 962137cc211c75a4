//! Whether a numpy array may be read as a Rust view of its element type.
//!
//! rust-numpy's `as_array` divides each byte stride by the item size, dropping a remainder,
//! and a view or slice over a misaligned pointer is undefined behaviour. A field of a
//! packed numpy record (`dtype=[("id", "<i4"), ("a", "<f8")]`: a 12-byte stride, the
//! values 4 bytes off alignment) is such an array: read as a view it gave the neighbouring
//! field's bytes (a rule that should fire did not, the observation's digest was wrong).

use numpy::{Element, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};

/// Whether `array`'s data is aligned for `T` and each stride a whole number of items.
pub(crate) fn readable<T: Element>(array: &PyReadonlyArray1<'_, T>) -> bool {
    let size = isize::try_from(std::mem::size_of::<T>()).unwrap_or(isize::MAX);
    array.is_aligned()
        && (array.data() as usize) % std::mem::align_of::<T>() == 0
        && array.strides().iter().all(|stride| stride % size == 0)
}

/// A `ValueError` naming what cannot be read (the Python side passes only readable arrays).
pub(crate) fn unreadable(what: &str) -> pyo3::PyErr {
    pyo3::exceptions::PyValueError::new_err(format!(
        "{what}: an array whose values are not aligned or whose stride is not a whole number \
         of values (a field of a packed record?); pass a contiguous copy"
    ))
}
