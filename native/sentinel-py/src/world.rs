//! `world_step`: the world's component arrays (numpy, zero-copy) through the native systems.

use numpy::{Element, PyReadonlyArrayDyn, PyReadwriteArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use sentinel_core::world::{self, WorldState, WorldTables, PARAM_NAMES};

use crate::errors::to_pyerr;

fn invalid(py: Python<'_>, name: &str, reason: String) -> PyErr {
    to_pyerr(
        py,
        sentinel_core::CoreError::WorldShape {
            component: name.to_owned(),
            reason,
        },
    )
}

fn item<'py>(dict: &Bound<'py, PyDict>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    dict.get_item(name)?
        .ok_or_else(|| invalid(dict.py(), name, "is missing".to_owned()))
}

fn rw<'py, T: Element>(
    dict: &Bound<'py, PyDict>,
    name: &str,
) -> PyResult<PyReadwriteArrayDyn<'py, T>> {
    let py = dict.py();
    item(dict, name)?
        .extract::<PyReadwriteArrayDyn<'py, T>>()
        .map_err(|e| {
            invalid(
                py,
                name,
                format!("cannot be written as {}: {e}", std::any::type_name::<T>()),
            )
        })
}

fn ro<'py, T: Element>(
    dict: &Bound<'py, PyDict>,
    name: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    let py = dict.py();
    item(dict, name)?
        .extract::<PyReadonlyArrayDyn<'py, T>>()
        .map_err(|e| {
            invalid(
                py,
                name,
                format!("cannot be read as {}: {e}", std::any::type_name::<T>()),
            )
        })
}

macro_rules! slice_mut {
    ($py:expr, $guard:expr, $name:expr) => {
        $guard
            .as_slice_mut()
            .map_err(|_| invalid($py, $name, "is not C-contiguous".into()))?
    };
}

macro_rules! slice {
    ($py:expr, $guard:expr, $name:expr) => {
        $guard
            .as_slice()
            .map_err(|_| invalid($py, $name, "is not C-contiguous".into()))?
    };
}

fn one<'a, T>(py: Python<'_>, values: &'a mut [T], name: &str) -> PyResult<&'a mut T> {
    match values {
        [value] => Ok(value),
        _ => Err(invalid(
            py,
            name,
            format!("has {} elements, expected 1", values.len()),
        )),
    }
}

/// The parameter names of the scalar vector, in order.
#[pyfunction]
pub(crate) fn world_param_names() -> Vec<&'static str> {
    PARAM_NAMES.to_vec()
}

/// Runs `ticks` ticks of the world's systems over the component arrays in `state`, in place.
#[pyfunction]
pub(crate) fn world_step(
    py: Python<'_>,
    state: &Bound<'_, PyDict>,
    tables: &Bound<'_, PyDict>,
    scalars: PyReadonlyArrayDyn<'_, f64>,
    ticks: u64,
) -> PyResult<()> {
    // Borrow every array first (the numpy crate refuses aliasing borrows), then release the
    // GIL for the whole run: nothing below touches a Python object.
    let mut hunger = rw::<f64>(state, "hunger")?;
    let mut energy = rw::<f64>(state, "energy")?;
    let mut bladder = rw::<f64>(state, "bladder")?;
    let mut stress = rw::<f64>(state, "stress")?;
    let mut social = rw::<f64>(state, "social")?;
    let mut caffeine = rw::<f64>(state, "caffeine")?;
    let mut valence = rw::<f64>(state, "valence")?;
    let mut arousal = rw::<f64>(state, "arousal")?;
    let extraversion = ro::<f64>(state, "extraversion")?;
    let neuroticism = ro::<f64>(state, "neuroticism")?;
    let tolerance = ro::<f64>(state, "caffeine_tolerance")?;
    let mut valence_impulse = rw::<f64>(state, "valence_impulse")?;
    let mut arousal_impulse = rw::<f64>(state, "arousal_impulse")?;
    let morning = ro::<u8>(state, "morning_person")?;
    let shift_set = ro::<u8>(state, "shift_set")?;
    let mut active = rw::<u8>(state, "active")?;
    let mut emotion = rw::<u8>(state, "emotion")?;
    let deadline = ro::<u8>(state, "deadline")?;
    let conflict = ro::<u8>(state, "conflict")?;
    let mut pending = rw::<u8>(state, "pending")?;
    let mut room = rw::<i32>(state, "room")?;
    let mut destination = rw::<i32>(state, "destination")?;
    let mut transit_left = rw::<i32>(state, "transit_left")?;
    let mut move_order = rw::<i32>(state, "move_order")?;
    let mut chat_left = rw::<i32>(state, "chat_left")?;
    let mut walk_paired = rw::<u8>(state, "walk_paired")?;
    let mut arrival_left = rw::<i32>(state, "arrival_left")?;
    let mut on_shift = rw::<i64>(state, "on_shift_ticks")?;
    let mut perception = rw::<u8>(state, "perception")?;
    let mut queue_priority = rw::<u8>(state, "queue_priority")?;
    let mut queue_reason = rw::<u8>(state, "queue_reason")?;
    let mut queue_ttl = rw::<u16>(state, "queue_ttl")?;
    let mut noise = rw::<f64>(state, "noise")?;
    let mut temperature = rw::<f64>(state, "temperature")?;
    let mut co2 = rw::<f64>(state, "co2")?;
    let window_open = ro::<u8>(state, "window_open")?;
    let thermostat = ro::<f64>(state, "thermostat")?;
    let door_closed = ro::<u8>(state, "door_closed")?;
    let mut occupancy = rw::<i32>(state, "occupancy")?;
    let mut chaos_left = rw::<i32>(state, "chaos_left")?;
    let mut chaos_room = rw::<i32>(state, "chaos_room")?;
    let mut chaos_started = rw::<u8>(state, "chaos_started")?;
    let mut tick = rw::<i64>(state, "tick")?;
    let mut stats = rw::<i64>(state, "stats")?;
    let mut ac_offset = rw::<f64>(state, "ac_offset")?;
    let seed = ro::<u64>(state, "seed")?;

    let circadian = ro::<f64>(tables, "circadian")?;
    let sun = ro::<f64>(tables, "sun")?;
    let shift_by_hour = ro::<u8>(tables, "shift_by_hour")?;
    let ints = ro::<i64>(tables, "ints")?;
    let room_floor = ro::<u8>(tables, "room_floor")?;
    let meet_threshold = ro::<u64>(tables, "meet_threshold")?;
    let room_code = ro::<u8>(tables, "room_code")?;
    let room_window = ro::<u8>(tables, "room_window")?;
    let room_air = ro::<f64>(tables, "room_air")?;
    let room_door = ro::<u8>(tables, "room_door")?;
    let street_noise = ro::<f64>(tables, "street_noise")?;
    let room_capacity = ro::<i32>(tables, "room_capacity")?;
    let spawn_order = ro::<i32>(tables, "spawn_order")?;
    let neighbours = ro::<i32>(tables, "neighbours")?;
    let transit_ticks = ro::<i32>(tables, "transit_ticks")?;
    let ttl = ro::<u16>(tables, "ttl")?;
    let chaos_threshold = ro::<u64>(tables, "chaos_threshold")?;
    let chaos_duration = ro::<i32>(tables, "chaos_duration")?;
    let chaos_factor = ro::<f64>(tables, "chaos_factor")?;
    let chaos_fixed_room = ro::<i32>(tables, "chaos_fixed_room")?;

    let seed_values = slice!(py, seed, "seed");
    let [seed_value] = seed_values else {
        return Err(invalid(py, "seed", "must have exactly one element".into()));
    };
    let mut world_state = WorldState {
        hunger: slice_mut!(py, hunger, "hunger"),
        energy: slice_mut!(py, energy, "energy"),
        bladder: slice_mut!(py, bladder, "bladder"),
        stress: slice_mut!(py, stress, "stress"),
        social: slice_mut!(py, social, "social"),
        caffeine: slice_mut!(py, caffeine, "caffeine"),
        valence: slice_mut!(py, valence, "valence"),
        arousal: slice_mut!(py, arousal, "arousal"),
        extraversion: slice!(py, extraversion, "extraversion"),
        neuroticism: slice!(py, neuroticism, "neuroticism"),
        caffeine_tolerance: slice!(py, tolerance, "caffeine_tolerance"),
        valence_impulse: slice_mut!(py, valence_impulse, "valence_impulse"),
        arousal_impulse: slice_mut!(py, arousal_impulse, "arousal_impulse"),
        morning_person: slice!(py, morning, "morning_person"),
        shift_set: slice!(py, shift_set, "shift_set"),
        active: slice_mut!(py, active, "active"),
        emotion: slice_mut!(py, emotion, "emotion"),
        deadline: slice!(py, deadline, "deadline"),
        conflict: slice!(py, conflict, "conflict"),
        pending: slice_mut!(py, pending, "pending"),
        room: slice_mut!(py, room, "room"),
        destination: slice_mut!(py, destination, "destination"),
        transit_left: slice_mut!(py, transit_left, "transit_left"),
        move_order: slice_mut!(py, move_order, "move_order"),
        chat_left: slice_mut!(py, chat_left, "chat_left"),
        walk_paired: slice_mut!(py, walk_paired, "walk_paired"),
        arrival_left: slice_mut!(py, arrival_left, "arrival_left"),
        on_shift_ticks: slice_mut!(py, on_shift, "on_shift_ticks"),
        perception: slice_mut!(py, perception, "perception"),
        queue_priority: slice_mut!(py, queue_priority, "queue_priority"),
        queue_reason: slice_mut!(py, queue_reason, "queue_reason"),
        queue_ttl: slice_mut!(py, queue_ttl, "queue_ttl"),
        noise: slice_mut!(py, noise, "noise"),
        temperature: slice_mut!(py, temperature, "temperature"),
        co2: slice_mut!(py, co2, "co2"),
        window_open: slice!(py, window_open, "window_open"),
        thermostat: slice!(py, thermostat, "thermostat"),
        door_closed: slice!(py, door_closed, "door_closed"),
        occupancy: slice_mut!(py, occupancy, "occupancy"),
        chaos_left: slice_mut!(py, chaos_left, "chaos_left"),
        chaos_room: slice_mut!(py, chaos_room, "chaos_room"),
        chaos_started: slice_mut!(py, chaos_started, "chaos_started"),
        tick: one(py, slice_mut!(py, tick, "tick"), "tick")?,
        stats: slice_mut!(py, stats, "stats"),
        ac_offset: one(py, slice_mut!(py, ac_offset, "ac_offset"), "ac_offset")?,
        seed: *seed_value,
    };
    let world_tables = WorldTables {
        circadian: slice!(py, circadian, "circadian"),
        sun: slice!(py, sun, "sun"),
        shift_by_hour: slice!(py, shift_by_hour, "shift_by_hour"),
        ints: slice!(py, ints, "ints"),
        room_floor: slice!(py, room_floor, "room_floor"),
        meet_threshold: slice!(py, meet_threshold, "meet_threshold"),
        room_code: slice!(py, room_code, "room_code"),
        room_window: slice!(py, room_window, "room_window"),
        room_air: slice!(py, room_air, "room_air"),
        room_door: slice!(py, room_door, "room_door"),
        street_noise: slice!(py, street_noise, "street_noise"),
        room_capacity: slice!(py, room_capacity, "room_capacity"),
        spawn_order: slice!(py, spawn_order, "spawn_order"),
        neighbours: slice!(py, neighbours, "neighbours"),
        transit_ticks: slice!(py, transit_ticks, "transit_ticks"),
        ttl: slice!(py, ttl, "ttl"),
        chaos_threshold: slice!(py, chaos_threshold, "chaos_threshold"),
        chaos_duration: slice!(py, chaos_duration, "chaos_duration"),
        chaos_factor: slice!(py, chaos_factor, "chaos_factor"),
        chaos_fixed_room: slice!(py, chaos_fixed_room, "chaos_fixed_room"),
    };
    let params = slice!(py, scalars, "scalars");
    py.detach(|| world::step(&mut world_state, &world_tables, params, ticks))
        .map_err(|e| to_pyerr(py, e))
}
