//! The office world's systems over structure-of-arrays state.
//!
//! One function per phase, run in the fixed order input, biology, physics, transit, chaos,
//! mood, perception, decision, output, persist. The Python numpy systems
//! (`sentinel/world/reference.py`) are the reference: every float expression here is
//! written term by term in the same order, and only operations IEEE 754 rounds exactly
//! (`+ - * /`, comparisons, `min`/`max`, `floor`) are used, with no fused multiply-add, so
//! both produce the same bits. Transcendental functions are evaluated once in Python and
//! arrive as tables (circadian curve, sun, Poisson thresholds, decay factors).

use crate::error::{CoreError, CoreResult};

pub(crate) const TIME_SCALE: usize = 0;
pub(crate) const START_SECOND: usize = 1;
pub(crate) const HUNGER_RATE: usize = 2;
pub(crate) const BLADDER_RATE: usize = 3;
pub(crate) const BLADDER_CAFFEINE_FACTOR: usize = 4;
pub(crate) const BLADDER_CAFFEINE_MG: usize = 5;
pub(crate) const SOCIAL_EXTRAVERT: usize = 6;
pub(crate) const SOCIAL_INTROVERT: usize = 7;
pub(crate) const SOCIAL_COMPANY: usize = 8;
pub(crate) const EXTRAVERT_THRESHOLD: usize = 9;
pub(crate) const CAFFEINE_DECAY: usize = 10;
pub(crate) const COFFEE_MG: usize = 11;
pub(crate) const MEAL_ENERGY: usize = 12;
pub(crate) const MEAL_HUNGER: usize = 13;
pub(crate) const ENERGY_GAIN: usize = 14;
pub(crate) const STRESS_GAIN: usize = 15;
pub(crate) const DRAIN_PER_HOUR: usize = 16;
pub(crate) const DT_HOURS: usize = 17;
pub(crate) const STRESS_MEETING_TERM: usize = 18;
pub(crate) const STRESS_DEADLINE_TERM: usize = 19;
pub(crate) const STRESS_CONFLICT_TERM: usize = 20;
pub(crate) const STRESS_HUNGER_GAIN: usize = 21;
pub(crate) const ENERGY_HUNGER_GAIN: usize = 22;
pub(crate) const ENERGY_STRESS_GAIN: usize = 23;
pub(crate) const CAFFEINE_NORM: usize = 24;
pub(crate) const CAFFEINE_BOOST: usize = 25;
pub(crate) const AMBIENT_POWER: usize = 26;
pub(crate) const SPEAKER_POWER: usize = 27;
pub(crate) const MEETING_POWER: usize = 28;
pub(crate) const LEAK_FACTOR: usize = 29;
pub(crate) const NOISE_CAP_POWER: usize = 30;
pub(crate) const BASE_TEMPERATURE: usize = 31;
pub(crate) const TEMPERATURE_KEEP: usize = 32;
pub(crate) const SUN_GAIN: usize = 33;
pub(crate) const AC_STEP: usize = 34;
pub(crate) const AC_MAX: usize = 35;
pub(crate) const CO2_OUTDOOR: usize = 36;
pub(crate) const VALENCE_ENERGY_GAIN: usize = 37;
pub(crate) const VALENCE_STRESS_GAIN: usize = 38;
pub(crate) const VALENCE_HUNGER_GAIN: usize = 39;
pub(crate) const VALENCE_SOCIAL_GAIN: usize = 40;
pub(crate) const AROUSAL_STRESS_GAIN: usize = 41;
pub(crate) const AROUSAL_CAFFEINE_NORM: usize = 42;
pub(crate) const AROUSAL_CAFFEINE_GAIN: usize = 43;
pub(crate) const AROUSAL_MEETING: usize = 44;
pub(crate) const SPAWN_HUNGER: usize = 45;
pub(crate) const SPAWN_ENERGY: usize = 46;
pub(crate) const SPAWN_BLADDER: usize = 47;
pub(crate) const SPAWN_STRESS: usize = 48;
pub(crate) const SPAWN_SOCIAL: usize = 49;
pub(crate) const NOISE_QUIET: usize = 50;
pub(crate) const NOISE_NORMAL: usize = 51;
pub(crate) const NOISE_LIVELY: usize = 52;
pub(crate) const NOISE_LOUD: usize = 53;
pub(crate) const CO2_FRESH: usize = 54;
pub(crate) const CO2_NORMAL: usize = 55;
pub(crate) const CO2_STUFFY: usize = 56;
pub(crate) const HOT_TEMPERATURE: usize = 57;
pub(crate) const DOOR_FACTOR: usize = 58;
pub(crate) const VALENCE_TEMPERAMENT_GAIN: usize = 59;
pub(crate) const MOOD_IMPULSE_KEEP: usize = 60;
pub(crate) const VALENCE_NEUTRAL_BAND: usize = 61;
/// The scalar parameter vector, in order (pinned to `sentinel.world.layout.PARAM_NAMES`).
pub const PARAM_NAMES: [&str; PARAM_COUNT] = [
    "time_scale",
    "start_second",
    "hunger_rate",
    "bladder_rate",
    "bladder_caffeine_factor",
    "bladder_caffeine_mg",
    "social_extravert",
    "social_introvert",
    "social_company",
    "extravert_threshold",
    "caffeine_decay",
    "coffee_mg",
    "meal_energy",
    "meal_hunger",
    "energy_gain",
    "stress_gain",
    "drain_per_hour",
    "dt_hours",
    "stress_meeting_term",
    "stress_deadline_term",
    "stress_conflict_term",
    "stress_hunger_gain",
    "energy_hunger_gain",
    "energy_stress_gain",
    "caffeine_norm",
    "caffeine_boost",
    "ambient_power",
    "speaker_power",
    "meeting_power",
    "leak_factor",
    "noise_cap_power",
    "base_temperature",
    "temperature_keep",
    "sun_gain",
    "ac_step",
    "ac_max",
    "co2_outdoor",
    "valence_energy_gain",
    "valence_stress_gain",
    "valence_hunger_gain",
    "valence_social_gain",
    "arousal_stress_gain",
    "arousal_caffeine_norm",
    "arousal_caffeine_gain",
    "arousal_meeting",
    "spawn_hunger",
    "spawn_energy",
    "spawn_bladder",
    "spawn_stress",
    "spawn_social",
    "noise_quiet",
    "noise_normal",
    "noise_lively",
    "noise_loud",
    "co2_fresh",
    "co2_normal",
    "co2_stuffy",
    "hot_temperature",
    "door_factor",
    "valence_temperament_gain",
    "mood_impulse_keep",
    "valence_neutral_band",
];

/// Number of scalar parameters.
pub const PARAM_COUNT: usize = 62;
/// Columns of the perception component.
pub const PERCEPTION_CHANNELS: usize = 9;
/// Hours per day (columns of the street-noise table).
pub const HOURS_PER_DAY: usize = 24;
/// Minutes per simulated day (rows of the circadian and sun tables).
pub const MINUTES_PER_DAY: usize = 1440;
/// Priority byte of an empty decision-queue slot.
pub const EMPTY_PRIORITY: u8 = 255;
/// Number of counters in `stats`.
pub const STAT_COUNT: usize = 9;

const STAT_SPAWNED: usize = 0;
const STAT_RETIRED: usize = 1;
const STAT_ARRIVALS: usize = 2;
const STAT_ACTIONS_DONE: usize = 3;
const STAT_ACTIONS_REFUSED: usize = 4;
const STAT_CHAOS_STARTED: usize = 5;
const STAT_DECISIONS_QUEUED: usize = 6;
const STAT_DECISIONS_DROPPED: usize = 7;
const STAT_MEETINGS: usize = 8;

const ACTION_COFFEE: u8 = 1;
const ACTION_MEAL: u8 = 2;
const ACTION_RELIEVE: u8 = 3;

const ROOM_KITCHEN: u8 = 1;
const ROOM_BATHROOM: u8 = 2;
const ROOM_MEETING: u8 = 3;
const ROOM_NONE: u8 = 255;

const EMOTION_EXCITED: u8 = 0;
const EMOTION_RELAXED: u8 = 1;
const EMOTION_HAPPY: u8 = 2;
const EMOTION_STRESSED: u8 = 3;
const EMOTION_TIRED: u8 = 4;
const EMOTION_FRUSTRATED: u8 = 5;
const EMOTION_FOCUSED: u8 = 6;
const EMOTION_BORED: u8 = 7;
const EMOTION_NEUTRAL: u8 = 8;

const REASON_CHAOS_BASE: u8 = 12;

const SPLITMIX_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
const CHAOS_STREAM: u64 = 0xD1B5_4A32_D192_ED03;
const MEET_STREAM: u64 = 0x8CB9_2BA7_2F3D_8DD7;
/// Coefficients per room in `room_air` (4 quantities x closed/open windows).
const AIR_WIDTH: usize = 8;
const AIR_HEAT_RISE: usize = 0;
const AIR_WINDOW_SHIFT: usize = 2;
const AIR_CO2_RISE: usize = 4;
const AIR_CO2_KEEP: usize = 6;
/// Floors the meeting pairing keeps a waiting walker for (rooms.toml allows 0 and 1).
const MAX_FLOORS: usize = 8;

/// SplitMix64's output function (wrapping arithmetic), the chaos system's random source.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(SPLITMIX_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random word of chaos kind `kind` at `tick`.
pub fn chaos_draw(seed: u64, tick: u64, kind: usize) -> u64 {
    let base = seed
        .wrapping_add(tick.wrapping_mul(SPLITMIX_GAMMA))
        .wrapping_add((kind as u64 + 1).wrapping_mul(CHAOS_STREAM));
    splitmix64(base)
}

/// The random word deciding whether the walker pair whose first agent is `first` chats.
pub fn meet_draw(seed: u64, tick: u64, first: usize) -> u64 {
    let base = seed
        .wrapping_add(tick.wrapping_mul(SPLITMIX_GAMMA))
        .wrapping_add((first as u64 + 1).wrapping_mul(MEET_STREAM));
    splitmix64(base)
}

/// The mutable component arrays of a world (row-major for the 2-D ones).
pub struct WorldState<'a> {
    pub hunger: &'a mut [f64],
    pub energy: &'a mut [f64],
    pub bladder: &'a mut [f64],
    pub stress: &'a mut [f64],
    pub social: &'a mut [f64],
    pub caffeine: &'a mut [f64],
    pub valence: &'a mut [f64],
    pub arousal: &'a mut [f64],
    pub extraversion: &'a [f64],
    pub neuroticism: &'a [f64],
    pub caffeine_tolerance: &'a [f64],
    /// Mood impulses the host adds on events; the mood phase adds them in and lets them fade.
    pub valence_impulse: &'a mut [f64],
    pub arousal_impulse: &'a mut [f64],
    pub morning_person: &'a [u8],
    pub shift_set: &'a [u8],
    pub active: &'a mut [u8],
    pub emotion: &'a mut [u8],
    pub deadline: &'a [u8],
    pub conflict: &'a [u8],
    pub pending: &'a mut [u8],
    pub room: &'a mut [i32],
    pub destination: &'a mut [i32],
    pub transit_left: &'a mut [i32],
    pub move_order: &'a mut [i32],
    pub chat_left: &'a mut [i32],
    pub walk_paired: &'a mut [u8],
    /// Ticks an agent whose shift is on still spends outside before it enters (an input
    /// the input phase counts down; 0 enters at once).
    pub arrival_left: &'a mut [i32],
    pub on_shift_ticks: &'a mut [i64],
    pub perception: &'a mut [u8],
    pub queue_priority: &'a mut [u8],
    pub queue_reason: &'a mut [u8],
    pub queue_ttl: &'a mut [u16],
    pub noise: &'a mut [f64],
    pub temperature: &'a mut [f64],
    pub co2: &'a mut [f64],
    pub window_open: &'a [u8],
    /// The thermostat's offset from the building setpoint per room, in kelvin (an input).
    pub thermostat: &'a [f64],
    /// 1 where the room's door is closed (an input; 0, open, is the default).
    pub door_closed: &'a [u8],
    pub occupancy: &'a mut [i32],
    pub chaos_left: &'a mut [i32],
    pub chaos_room: &'a mut [i32],
    pub chaos_started: &'a mut [u8],
    pub tick: &'a mut i64,
    pub stats: &'a mut [i64],
    pub ac_offset: &'a mut f64,
    pub seed: u64,
}

/// Read-only tables derived from the configuration (`sentinel/world/params.py`).
pub struct WorldTables<'a> {
    pub circadian: &'a [f64],
    pub sun: &'a [f64],
    pub shift_by_hour: &'a [u8],
    /// `[shift_ticks, entrance room, ac_broken chaos kind or -1, chat_ticks]`.
    pub ints: &'a [i64],
    pub room_floor: &'a [u8],
    /// One element: a uint64 draw below it means a walker pair chats.
    pub meet_threshold: &'a [u64],
    pub room_code: &'a [u8],
    pub room_window: &'a [u8],
    /// `(rooms, 4, 2)`: heat rise per person, window shift, CO2 rise per person, CO2 keep
    /// factor, each with windows closed and open (`sentinel.world.params.room_air`).
    pub room_air: &'a [f64],
    /// 1 where the room has a door of its own (corridors and the stairwell have none).
    pub room_door: &'a [u8],
    /// `(rooms, 24)`: outdoor noise (linear power) an open window lets in, per hour.
    pub street_noise: &'a [f64],
    pub room_capacity: &'a [i32],
    /// Rooms arriving agents fill, in order (the entrance first).
    pub spawn_order: &'a [i32],
    pub neighbours: &'a [i32],
    pub transit_ticks: &'a [i32],
    pub ttl: &'a [u16],
    pub chaos_threshold: &'a [u64],
    pub chaos_duration: &'a [i32],
    pub chaos_factor: &'a [f64],
    pub chaos_fixed_room: &'a [i32],
}

fn shape(component: &str, found: usize, expected: usize) -> CoreResult<()> {
    if found == expected {
        Ok(())
    } else {
        Err(CoreError::WorldShape {
            component: component.to_owned(),
            reason: format!("has {found} elements, expected {expected}"),
        })
    }
}

fn bad(component: &str, reason: String) -> CoreError {
    CoreError::WorldShape {
        component: component.to_owned(),
        reason,
    }
}

/// Sizes of a world, checked once before any tick runs.
#[derive(Debug, Clone, Copy)]
struct Dims {
    agents: usize,
    rooms: usize,
    kinds: usize,
    queue: usize,
    width: usize,
}

fn check(state: &WorldState<'_>, tables: &WorldTables<'_>, params: &[f64]) -> CoreResult<Dims> {
    shape("scalars", params.len(), PARAM_COUNT)?;
    let agents = state.hunger.len();
    for (name, len) in [
        ("energy", state.energy.len()),
        ("bladder", state.bladder.len()),
        ("stress", state.stress.len()),
        ("social", state.social.len()),
        ("caffeine", state.caffeine.len()),
        ("valence", state.valence.len()),
        ("arousal", state.arousal.len()),
        ("extraversion", state.extraversion.len()),
        ("neuroticism", state.neuroticism.len()),
        ("caffeine_tolerance", state.caffeine_tolerance.len()),
        ("valence_impulse", state.valence_impulse.len()),
        ("arousal_impulse", state.arousal_impulse.len()),
        ("morning_person", state.morning_person.len()),
        ("shift_set", state.shift_set.len()),
        ("active", state.active.len()),
        ("emotion", state.emotion.len()),
        ("deadline", state.deadline.len()),
        ("conflict", state.conflict.len()),
        ("pending", state.pending.len()),
        ("room", state.room.len()),
        ("destination", state.destination.len()),
        ("transit_left", state.transit_left.len()),
        ("move_order", state.move_order.len()),
        ("chat_left", state.chat_left.len()),
        ("walk_paired", state.walk_paired.len()),
        ("arrival_left", state.arrival_left.len()),
        ("on_shift_ticks", state.on_shift_ticks.len()),
    ] {
        shape(name, len, agents)?;
    }
    shape(
        "perception",
        state.perception.len(),
        agents * PERCEPTION_CHANNELS,
    )?;
    if agents == 0 {
        return Err(bad("hunger", "a world needs at least one agent".into()));
    }
    let queue = state.queue_priority.len() / agents;
    if queue == 0 {
        return Err(bad(
            "queue_priority",
            "the decision queue has no slots".into(),
        ));
    }
    shape("queue_priority", state.queue_priority.len(), agents * queue)?;
    shape("queue_reason", state.queue_reason.len(), agents * queue)?;
    shape("queue_ttl", state.queue_ttl.len(), agents * queue)?;
    let rooms = tables.room_code.len();
    for (name, len) in [
        ("noise", state.noise.len()),
        ("temperature", state.temperature.len()),
        ("co2", state.co2.len()),
        ("window_open", state.window_open.len()),
        ("thermostat", state.thermostat.len()),
        ("door_closed", state.door_closed.len()),
        ("occupancy", state.occupancy.len()),
        ("room_window", tables.room_window.len()),
        ("room_door", tables.room_door.len()),
        ("room_capacity", tables.room_capacity.len()),
        ("room_floor", tables.room_floor.len()),
    ] {
        shape(name, len, rooms)?;
    }
    shape("room_air", tables.room_air.len(), rooms * AIR_WIDTH)?;
    shape(
        "street_noise",
        tables.street_noise.len(),
        rooms * HOURS_PER_DAY,
    )?;
    if tables.spawn_order.is_empty()
        || tables
            .spawn_order
            .iter()
            .any(|&r| r < 0 || r as usize >= rooms)
    {
        return Err(bad(
            "spawn_order",
            format!("must list rooms of 0..{rooms}, at least one"),
        ));
    }
    if rooms == 0 || tables.neighbours.len() % rooms != 0 {
        return Err(bad("neighbours", "is not a (rooms, width) table".into()));
    }
    let width = tables.neighbours.len() / rooms;
    if tables
        .neighbours
        .iter()
        .any(|&n| n < 0 || n as usize > rooms)
    {
        return Err(bad(
            "neighbours",
            format!("holds a room outside 0..={rooms}"),
        ));
    }
    shape("transit_ticks", tables.transit_ticks.len(), rooms * rooms)?;
    let kinds = tables.chaos_threshold.len();
    for (name, len) in [
        ("chaos_duration", tables.chaos_duration.len()),
        ("chaos_factor", tables.chaos_factor.len()),
        ("chaos_fixed_room", tables.chaos_fixed_room.len()),
        ("chaos_left", state.chaos_left.len()),
        ("chaos_room", state.chaos_room.len()),
        ("chaos_started", state.chaos_started.len()),
    ] {
        shape(name, len, kinds)?;
    }
    if kinds + REASON_CHAOS_BASE as usize > EMPTY_PRIORITY as usize {
        return Err(bad("chaos_threshold", "too many chaos kinds".into()));
    }
    shape("circadian", tables.circadian.len(), 2 * MINUTES_PER_DAY)?;
    shape("sun", tables.sun.len(), MINUTES_PER_DAY)?;
    shape("shift_by_hour", tables.shift_by_hour.len(), 24)?;
    shape("ints", tables.ints.len(), 4)?;
    shape("meet_threshold", tables.meet_threshold.len(), 1)?;
    if tables.room_floor.iter().any(|&f| f as usize >= MAX_FLOORS) {
        return Err(bad("room_floor", format!("floors are 0..{MAX_FLOORS}")));
    }
    if tables.ints[3] < 1 || tables.ints[3] > i64::from(i32::MAX) {
        return Err(bad("ints", "chat_ticks must be a positive int32".into()));
    }
    if state.chat_left.iter().any(|&c| c < 0) {
        return Err(bad("chat_left", "must not be negative".into()));
    }
    shape("ttl", tables.ttl.len(), 4)?;
    shape("stats", state.stats.len(), STAT_COUNT)?;
    if tables.ints[0] < 1 {
        return Err(bad("ints", "shift_ticks must be positive".into()));
    }
    let entrance = tables.ints[1];
    if entrance < 0 || entrance as usize >= rooms {
        return Err(bad(
            "ints",
            format!("entrance room {entrance} out of range"),
        ));
    }
    if tables.ints[2] >= kinds as i64 {
        return Err(bad("ints", "ac_broken kind out of range".into()));
    }
    let in_rooms = |v: i32| v >= -1 && (v as i64) < rooms as i64;
    for (name, values) in [
        ("room", &*state.room),
        ("destination", &*state.destination),
        ("move_order", &*state.move_order),
        ("chaos_room", &*state.chaos_room),
        ("chaos_fixed_room", tables.chaos_fixed_room),
    ] {
        if !values.iter().all(|&v| in_rooms(v)) {
            return Err(bad(name, format!("holds a room outside -1..{rooms}")));
        }
    }
    if state.morning_person.iter().any(|&m| m > 1) {
        return Err(bad("morning_person", "must be 0 or 1".into()));
    }
    if state.emotion.iter().any(|&e| e > EMOTION_NEUTRAL) {
        return Err(bad("emotion", "unknown emotion code".into()));
    }
    if state
        .queue_priority
        .iter()
        .any(|&p| p != EMPTY_PRIORITY && p > 3)
    {
        return Err(bad("queue_priority", "priorities are 0..=3 or 255".into()));
    }
    if tables.transit_ticks.iter().any(|&t| t < 0) || tables.chaos_duration.iter().any(|&d| d < 1) {
        return Err(bad("transit_ticks", "durations must be positive".into()));
    }
    if state.transit_left.iter().any(|&t| t < 0) {
        return Err(bad("transit_left", "must not be negative".into()));
    }
    Ok(Dims {
        agents,
        rooms,
        kinds,
        queue,
        width,
    })
}

/// (minute of the day, hour of the day) at `tick`.
fn clock(params: &[f64], tick: i64) -> (usize, usize) {
    let seconds = params[START_SECOND] + (tick as f64) * params[TIME_SCALE];
    let minute = ((seconds / 60.0).floor() as i64).rem_euclid(MINUTES_PER_DAY as i64) as usize;
    (minute, minute / 60)
}

fn room_of(room: i32) -> usize {
    room.max(0) as usize
}

/// Where arriving agents go: the first room of `spawn_order` with a free place, counting
/// the agents placed at the start of the tick and the arrivals placed before.
struct Spawn<'a> {
    present: &'a mut [i32],
    cursor: usize,
}

impl Spawn<'_> {
    fn place(&mut self, t: &WorldTables<'_>) -> i32 {
        let order = t.spawn_order;
        while self.cursor < order.len() {
            let r = order[self.cursor] as usize;
            if self.present[r] < t.room_capacity[r] {
                break;
            }
            self.cursor += 1;
        }
        let room = if self.cursor < order.len() {
            order[self.cursor]
        } else {
            order[0]
        };
        self.present[room as usize] += 1;
        room
    }
}

fn input_agent(
    s: &mut WorldState<'_>,
    t: &WorldTables<'_>,
    p: &[f64],
    d: Dims,
    c: &Tick,
    spawn: &mut Spawn<'_>,
    i: usize,
) {
    let q = d.queue;
    let current = c.shift;
    let should = s.shift_set[i] == 0 || s.shift_set[i] == current;
    if should && s.active[i] == 0 && s.arrival_left[i] > 0 {
        // still on the way in: in no room, head count or air
        s.arrival_left[i] -= 1;
    } else if should && s.active[i] == 0 {
        s.active[i] = 1;
        s.room[i] = spawn.place(t);
        s.destination[i] = -1;
        s.transit_left[i] = 0;
        s.move_order[i] = -1;
        s.chat_left[i] = 0;
        s.walk_paired[i] = 0;
        s.on_shift_ticks[i] = 0;
        s.pending[i] = 0;
        s.hunger[i] = p[SPAWN_HUNGER];
        s.energy[i] = p[SPAWN_ENERGY];
        s.bladder[i] = p[SPAWN_BLADDER];
        s.stress[i] = p[SPAWN_STRESS];
        s.social[i] = p[SPAWN_SOCIAL];
        s.caffeine[i] = 0.0;
        s.queue_priority[i * q..(i + 1) * q].fill(EMPTY_PRIORITY);
        s.queue_reason[i * q..(i + 1) * q].fill(0);
        s.queue_ttl[i * q..(i + 1) * q].fill(0);
        s.stats[STAT_SPAWNED] += 1;
    } else if !should && s.active[i] == 1 {
        s.active[i] = 0;
        s.room[i] = -1;
        s.destination[i] = -1;
        s.transit_left[i] = 0;
        s.move_order[i] = -1;
        s.chat_left[i] = 0;
        s.walk_paired[i] = 0;
        s.pending[i] = 0;
        s.perception[i * PERCEPTION_CHANNELS..(i + 1) * PERCEPTION_CHANNELS].fill(0);
        s.queue_priority[i * q..(i + 1) * q].fill(EMPTY_PRIORITY);
        s.queue_reason[i * q..(i + 1) * q].fill(0);
        s.queue_ttl[i * q..(i + 1) * q].fill(0);
        s.stats[STAT_RETIRED] += 1;
    }
    if s.active[i] == 1 {
        let room = s.room[i];
        let code = if room >= 0 {
            t.room_code[room as usize]
        } else {
            ROOM_NONE
        };
        let pending = s.pending[i];
        let done = match pending {
            ACTION_COFFEE if code == ROOM_KITCHEN => {
                s.caffeine[i] += p[COFFEE_MG];
                true
            }
            ACTION_MEAL if code == ROOM_KITCHEN => {
                s.hunger[i] = (s.hunger[i] - p[MEAL_HUNGER]).max(0.0);
                s.energy[i] = (s.energy[i] + p[MEAL_ENERGY]).min(100.0);
                true
            }
            ACTION_RELIEVE if code == ROOM_BATHROOM => {
                s.bladder[i] = 0.0;
                true
            }
            _ => false,
        };
        if done {
            s.stats[STAT_ACTIONS_DONE] += 1;
        } else if pending != 0 {
            s.stats[STAT_ACTIONS_REFUSED] += 1;
        }
        let order = s.move_order[i];
        if order >= 0 && room >= 0 && order != room {
            s.walk_paired[i] = 0;
            s.destination[i] = order;
            s.transit_left[i] = t.transit_ticks[room as usize * d.rooms + order as usize];
            s.room[i] = -1;
        }
    }
    s.pending[i] = 0;
    s.move_order[i] = -1;
}

fn biology_agent(s: &mut WorldState<'_>, t: &WorldTables<'_>, p: &[f64], c: &Tick, i: usize) {
    let (minute, shift_ticks) = (c.minute, c.shift_ticks);
    if s.active[i] != 1 {
        return;
    }
    let room = s.room[i];
    let here = room_of(room);
    let crowd = room >= 0 && s.occupancy[here] >= 2;
    let company = crowd || s.chat_left[i] > 0;
    let meeting = crowd && t.room_code[here] == ROOM_MEETING;
    let hunger = (s.hunger[i] + p[HUNGER_RATE]).min(100.0);
    let rate = if s.caffeine[i] > p[BLADDER_CAFFEINE_MG] {
        p[BLADDER_RATE] * p[BLADDER_CAFFEINE_FACTOR]
    } else {
        p[BLADDER_RATE]
    };
    let bladder = (s.bladder[i] + rate).min(100.0);
    let mut drift = if s.extraversion[i] >= p[EXTRAVERT_THRESHOLD] {
        p[SOCIAL_EXTRAVERT]
    } else {
        p[SOCIAL_INTROVERT]
    };
    if company {
        drift += p[SOCIAL_COMPANY];
    }
    let social = (s.social[i] + drift).clamp(0.0, 100.0);
    let caffeine = s.caffeine[i] * p[CAFFEINE_DECAY];
    let target = (((if meeting { p[STRESS_MEETING_TERM] } else { 0.0 }
        + if s.deadline[i] == 1 {
            p[STRESS_DEADLINE_TERM]
        } else {
            0.0
        })
        + if s.conflict[i] == 1 {
            p[STRESS_CONFLICT_TERM]
        } else {
            0.0
        })
        + (hunger - 50.0).max(0.0) * p[STRESS_HUNGER_GAIN])
        * (0.5 + 0.5 * s.neuroticism[i]);
    let stress = s.stress[i] + (target - s.stress[i]) * p[STRESS_GAIN];
    let circadian = t.circadian[s.morning_person[i] as usize * MINUTES_PER_DAY + minute];
    let hours_on = ((s.on_shift_ticks[i] % shift_ticks) as f64) * p[DT_HOURS];
    let energy_target = (((circadian - (hunger - 70.0).max(0.0) * p[ENERGY_HUNGER_GAIN])
        - stress * p[ENERGY_STRESS_GAIN])
        + (caffeine * p[CAFFEINE_NORM]).min(1.0)
            * (p[CAFFEINE_BOOST] * (1.0 - 0.5 * s.caffeine_tolerance[i])))
        - hours_on * p[DRAIN_PER_HOUR];
    let energy = (s.energy[i] + (energy_target - s.energy[i]) * p[ENERGY_GAIN]).clamp(0.0, 100.0);
    s.hunger[i] = hunger;
    s.bladder[i] = bladder;
    s.social[i] = social;
    s.caffeine[i] = caffeine;
    s.stress[i] = stress;
    s.energy[i] = energy;
    s.on_shift_ticks[i] += 1;
}

/// Rooms: noise, heat and air from the head counts taken in the first agent pass.
fn phase_physics(
    s: &mut WorldState<'_>,
    t: &WorldTables<'_>,
    p: &[f64],
    d: Dims,
    c: &Tick,
    counts: &[i32],
) {
    s.occupancy.copy_from_slice(counts);
    let mut own = vec![0.0f64; d.rooms + 1];
    for (r, slot) in own.iter_mut().take(d.rooms).enumerate() {
        let occupancy = s.occupancy[r];
        let heads = occupancy as f64;
        let talkers = if occupancy >= 2 {
            heads * p[SPEAKER_POWER]
        } else {
            0.0
        };
        let meeting = t.room_code[r] == ROOM_MEETING && occupancy >= 2;
        *slot = (p[AMBIENT_POWER] + talkers) + if meeting { p[MEETING_POWER] } else { 0.0 };
    }
    for kind in 0..d.kinds {
        if s.chaos_left[kind] > 0 && s.chaos_room[kind] >= 0 {
            let r = s.chaos_room[kind] as usize;
            own[r] *= t.chaos_factor[kind];
        }
    }
    let minute = c.minute;
    let hour = minute / 60;
    for (r, slot) in own.iter_mut().take(d.rooms).enumerate() {
        if s.window_open[r] == 1 && t.room_window[r] == 1 {
            *slot += t.street_noise[r * HOURS_PER_DAY + hour];
        }
    }
    // A closed door (of this room or of the neighbour) damps what leaks along that edge.
    let door_closed: &[u8] = s.door_closed;
    let shut = |r: usize| r < d.rooms && door_closed[r] == 1 && t.room_door[r] == 1;
    for r in 0..d.rooms {
        let mut leaked = 0.0f64;
        for c in 0..d.width {
            let other = t.neighbours[r * d.width + c] as usize;
            let gain = if shut(r) || shut(other) {
                p[DOOR_FACTOR]
            } else {
                1.0
            };
            leaked += own[other] * gain;
        }
        s.noise[r] = (own[r] + leaked * p[LEAK_FACTOR]).min(p[NOISE_CAP_POWER]);
        // Heat and CO2 relax exactly (precomputed exponentials) to their balance's steady
        // state for this tick's head count and window.
        let heads = s.occupancy[r] as f64;
        let open = usize::from(s.window_open[r] == 1 && t.room_window[r] == 1);
        let air = &t.room_air[r * AIR_WIDTH..(r + 1) * AIR_WIDTH];
        let sun = if t.room_window[r] == 1 {
            t.sun[minute] * p[SUN_GAIN]
        } else {
            0.0
        };
        let target = ((((p[BASE_TEMPERATURE] + air[AIR_WINDOW_SHIFT + open]) + sun)
            + *s.ac_offset)
            + s.thermostat[r])
            + heads * air[AIR_HEAT_RISE + open];
        s.temperature[r] = target + (s.temperature[r] - target) * p[TEMPERATURE_KEEP];
        let steady = p[CO2_OUTDOOR] + heads * air[AIR_CO2_RISE + open];
        s.co2[r] = steady + (s.co2[r] - steady) * air[AIR_CO2_KEEP + open];
    }
}

/// Transit, first half: pairs idle walkers (not chatting, not yet paired on this walk) in
/// agent order per destination floor; a pair chats with the configured probability.
fn pair_walker(
    s: &mut WorldState<'_>,
    t: &WorldTables<'_>,
    i: usize,
    waiting: &mut [Option<usize>; MAX_FLOORS],
) {
    if s.active[i] != 1 || s.transit_left[i] <= 0 || s.chat_left[i] != 0 || s.walk_paired[i] != 0 {
        return;
    }
    let floor = t.room_floor[s.destination[i] as usize] as usize;
    let Some(first) = waiting[floor].take() else {
        waiting[floor] = Some(i);
        return;
    };
    s.walk_paired[first] = 1;
    s.walk_paired[i] = 1;
    if meet_draw(s.seed, *s.tick as u64, first) < t.meet_threshold[0] {
        let chat = t.ints[3] as i32;
        s.chat_left[first] = chat;
        s.chat_left[i] = chat;
        s.stats[STAT_MEETINGS] += 1;
    }
}

/// Transit, second half: chatting walkers count the chat down, the others their walk.
fn transit_agent(s: &mut WorldState<'_>, i: usize) {
    if s.active[i] != 1 || s.transit_left[i] <= 0 {
        return;
    }
    if s.chat_left[i] > 0 {
        s.chat_left[i] -= 1;
        return;
    }
    s.transit_left[i] -= 1;
    if s.transit_left[i] == 0 {
        s.room[i] = s.destination[i];
        s.destination[i] = -1;
        s.stats[STAT_ARRIVALS] += 1;
    }
}

fn phase_chaos(s: &mut WorldState<'_>, t: &WorldTables<'_>, p: &[f64], d: Dims) {
    let tick = *s.tick as u64;
    s.chaos_started.fill(0);
    for kind in 0..d.kinds {
        let draw = chaos_draw(s.seed, tick, kind);
        if s.chaos_left[kind] > 0 {
            s.chaos_left[kind] -= 1;
            if s.chaos_left[kind] == 0 {
                s.chaos_room[kind] = -1;
            }
        } else if draw < t.chaos_threshold[kind] {
            s.chaos_left[kind] = t.chaos_duration[kind];
            let fixed = t.chaos_fixed_room[kind];
            s.chaos_room[kind] = if fixed >= 0 {
                fixed
            } else {
                (splitmix64(draw) % d.rooms as u64) as i32
            };
            s.chaos_started[kind] = 1;
            s.stats[STAT_CHAOS_STARTED] += 1;
        }
    }
    let ac_kind = t.ints[2];
    let broken = ac_kind >= 0 && s.chaos_left[ac_kind as usize] > 0;
    *s.ac_offset = if broken {
        (*s.ac_offset + p[AC_STEP]).min(p[AC_MAX])
    } else {
        0.0
    };
}

fn in_meeting(s: &WorldState<'_>, t: &WorldTables<'_>, i: usize) -> bool {
    let room = s.room[i];
    let here = room_of(room);
    room >= 0 && s.occupancy[here] >= 2 && t.room_code[here] == ROOM_MEETING
}

fn emotion_of(valence: f64, arousal: f64, band: f64) -> u8 {
    if valence > 0.3 && arousal > 0.5 {
        EMOTION_EXCITED
    } else if valence > 0.3 {
        EMOTION_RELAXED
    } else if valence > band {
        EMOTION_HAPPY
    } else if valence < -0.3 && arousal > 0.5 {
        EMOTION_STRESSED
    } else if valence < -0.3 {
        EMOTION_TIRED
    } else if valence < -band {
        EMOTION_FRUSTRATED
    } else if arousal > 0.5 {
        EMOTION_FOCUSED
    } else if arousal < 0.2 {
        EMOTION_BORED
    } else {
        EMOTION_NEUTRAL
    }
}

fn mood_agent(s: &mut WorldState<'_>, t: &WorldTables<'_>, p: &[f64], i: usize) {
    if s.active[i] != 1 {
        return;
    }
    let meeting = in_meeting(s, t, i);
    let valence = (((s.energy[i] - 50.0) * p[VALENCE_ENERGY_GAIN]
        - s.stress[i] * p[VALENCE_STRESS_GAIN])
        - (s.hunger[i] - 30.0).max(0.0) * p[VALENCE_HUNGER_GAIN])
        - (s.social[i] - 70.0).max(0.0) * p[VALENCE_SOCIAL_GAIN];
    let temperament = s.extraversion[i] - s.neuroticism[i];
    let valence = (valence + temperament * p[VALENCE_TEMPERAMENT_GAIN]) + s.valence_impulse[i];
    let valence = valence.clamp(-1.0, 1.0);
    let arousal = ((s.stress[i] * p[AROUSAL_STRESS_GAIN]
        + (s.caffeine[i] * p[AROUSAL_CAFFEINE_NORM]).min(1.0) * p[AROUSAL_CAFFEINE_GAIN])
        + if meeting { p[AROUSAL_MEETING] } else { 0.0 })
        + s.arousal_impulse[i];
    let arousal = arousal.clamp(0.0, 1.0);
    s.valence_impulse[i] *= p[MOOD_IMPULSE_KEEP];
    s.arousal_impulse[i] *= p[MOOD_IMPULSE_KEEP];
    s.valence[i] = valence;
    s.arousal[i] = arousal;
    s.emotion[i] = emotion_of(valence, arousal, p[VALENCE_NEUTRAL_BAND]);
}

fn above(value: f64, edges: &[f64]) -> u8 {
    edges.iter().filter(|&&edge| value > edge).count() as u8
}

fn at_least(value: f64, edges: &[f64]) -> u8 {
    edges.iter().filter(|&&edge| value >= edge).count() as u8
}

fn perception_agent(s: &mut WorldState<'_>, p: &[f64], c: &Tick, i: usize) {
    let (noise_edges, co2_edges) = (c.noise_edges, c.co2_edges);
    if s.active[i] != 1 {
        return;
    }
    let room = s.room[i];
    let here = room_of(room);
    let placed = room >= 0;
    let energy = s.energy[i];
    let social = s.social[i];
    let bands = [
        above(s.hunger[i], &[40.0, 70.0]),
        if energy < 30.0 {
            0
        } else if energy < 50.0 {
            1
        } else if energy > 85.0 {
            3
        } else {
            2
        },
        above(s.caffeine[i], &[30.0, 80.0]),
        above(s.bladder[i], &[40.0, 70.0]),
        above(s.stress[i], &[40.0, 70.0]),
        if social < 20.0 {
            0
        } else if social > 70.0 {
            2
        } else {
            1
        },
        if placed {
            at_least(s.noise[here], &noise_edges)
        } else {
            0
        },
        if placed {
            at_least(s.co2[here], &co2_edges)
        } else {
            0
        },
        u8::from(placed && s.temperature[here] > p[HOT_TEMPERATURE]),
    ];
    s.perception[i * PERCEPTION_CHANNELS..(i + 1) * PERCEPTION_CHANNELS].copy_from_slice(&bands);
}

fn queue_insert(
    s: &mut WorldState<'_>,
    t: &WorldTables<'_>,
    i: usize,
    q: usize,
    prio: u8,
    code: u8,
) {
    let row = i * q..(i + 1) * q;
    let priorities = &s.queue_priority[row.clone()];
    let reasons = &s.queue_reason[row.clone()];
    if priorities
        .iter()
        .zip(reasons)
        .any(|(&p, &r)| p == prio && r == code)
    {
        return;
    }
    let slot = match priorities.iter().position(|&p| p == EMPTY_PRIORITY) {
        Some(empty) => Some(empty),
        None => {
            let mut worst = 0;
            for (k, &p) in priorities.iter().enumerate() {
                if p > priorities[worst] {
                    worst = k;
                }
            }
            (priorities[worst] > prio).then_some(worst)
        }
    };
    match slot {
        Some(k) => {
            s.queue_priority[row.start + k] = prio;
            s.queue_reason[row.start + k] = code;
            s.queue_ttl[row.start + k] = t.ttl[prio as usize];
            s.stats[STAT_DECISIONS_QUEUED] += 1;
        }
        None => s.stats[STAT_DECISIONS_DROPPED] += 1,
    }
}

fn decision_agent(s: &mut WorldState<'_>, t: &WorldTables<'_>, d: Dims, i: usize) {
    let q = d.queue;
    if s.active[i] != 1 {
        return;
    }
    for k in i * q..(i + 1) * q {
        if s.queue_priority[k] != EMPTY_PRIORITY {
            s.queue_ttl[k] -= 1;
            if s.queue_ttl[k] == 0 {
                s.queue_priority[k] = EMPTY_PRIORITY;
                s.queue_reason[k] = 0;
            }
        }
    }
    let (hunger, energy) = (s.hunger[i], s.energy[i]);
    let (bladder, stress) = (s.bladder[i], s.stress[i]);
    let meeting = in_meeting(s, t, i);
    let candidates = [
        (0, 1, bladder > 95.0),
        (0, 2, energy < 10.0),
        (0, 3, hunger > 95.0),
        (0, 4, stress > 90.0),
        (1, 5, bladder > 70.0 && bladder <= 95.0),
        (1, 6, hunger > 80.0 && hunger <= 95.0),
        (1, 7, (10.0..30.0).contains(&energy)),
        (1, 8, meeting),
        (2, 9, stress > 60.0 && stress <= 90.0),
        (2, 10, s.caffeine[i] < 20.0 && s.caffeine_tolerance[i] > 0.3),
        (3, 11, s.emotion[i] == EMOTION_BORED),
    ];
    for (prio, code, wanted) in candidates {
        if wanted {
            queue_insert(s, t, i, q, prio, code);
        }
    }
    for kind in 0..d.kinds {
        if s.chaos_started[kind] == 1 && s.chaos_left[kind] > 0 && s.room[i] == s.chaos_room[kind] {
            queue_insert(s, t, i, q, 3, REASON_CHAOS_BASE + kind as u8);
        }
    }
}

/// Values every agent of one tick shares, computed once per tick.
struct Tick {
    minute: usize,
    shift: u8,
    shift_ticks: i64,
    noise_edges: [f64; 4],
    co2_edges: [f64; 3],
}

impl Tick {
    fn new(s: &WorldState<'_>, t: &WorldTables<'_>, p: &[f64]) -> Tick {
        let (minute, hour) = clock(p, *s.tick);
        Tick {
            minute,
            shift: t.shift_by_hour[hour],
            shift_ticks: t.ints[0],
            noise_edges: [
                p[NOISE_QUIET],
                p[NOISE_NORMAL],
                p[NOISE_LIVELY],
                p[NOISE_LOUD],
            ],
            co2_edges: [p[CO2_FRESH], p[CO2_NORMAL], p[CO2_STUFFY]],
        }
    }
}

/// One tick. The phases run in their fixed order, fused into two passes over the agents
/// where the order allows it (each agent's input and biology only read its own components
/// and last tick's rooms; transit, mood, perception and decision only read its own
/// components, this tick's rooms and chaos), so memory is streamed twice per tick instead of
/// eight times. Chaos reads no agent and no agent phase before mood reads chaos, so it runs
/// between the passes. The numpy reference runs the phases unfused; the tests pin equality.
fn tick(
    s: &mut WorldState<'_>,
    t: &WorldTables<'_>,
    p: &[f64],
    d: Dims,
    counts: &mut [i32],
    present: &mut [i32],
) {
    let c = Tick::new(s, t, p);
    // input, spawn half: arrivals fill rooms counting who was placed at the tick's start
    // and stays on duty (the leaving shift goes first).
    present.fill(0);
    for i in 0..d.agents {
        let stays = s.shift_set[i] == 0 || s.shift_set[i] == c.shift;
        if stays && s.active[i] == 1 && s.room[i] >= 0 {
            present[s.room[i] as usize] += 1;
        }
    }
    let mut spawn = Spawn { present, cursor: 0 };
    counts.fill(0);
    let mut waiting = [None; MAX_FLOORS];
    for i in 0..d.agents {
        input_agent(s, t, p, d, &c, &mut spawn, i);
        biology_agent(s, t, p, &c, i);
        // transit, pairing half: reads only what input left and biology does not touch; it
        // writes chat_left of an earlier agent, whose biology has already run.
        pair_walker(s, t, i, &mut waiting);
        // physics, agent half: head counts after this tick's moves
        if s.active[i] == 1 && s.room[i] >= 0 {
            counts[s.room[i] as usize] += 1;
        }
    }
    phase_physics(s, t, p, d, &c, counts);
    phase_chaos(s, t, p, d);
    for i in 0..d.agents {
        transit_agent(s, i);
        mood_agent(s, t, p, i);
        perception_agent(s, p, &c, i);
        decision_agent(s, t, d, i);
    }
    // output: nothing to compute; the host reads components and counters after a step.
    // persist: advance the clock.
    *s.tick += 1;
}

/// Runs `ticks` ticks of every system in phase order over `state`.
///
/// # Errors
/// `CoreError::WorldShape` when a component or table has the wrong size or holds an
/// out-of-range room; nothing is modified then.
pub fn step(
    state: &mut WorldState<'_>,
    tables: &WorldTables<'_>,
    params: &[f64],
    ticks: u64,
) -> CoreResult<()> {
    let dims = check(state, tables, params)?;
    let mut counts = vec![0i32; dims.rooms];
    let mut present = vec![0i32; dims.rooms];
    for _ in 0..ticks {
        tick(state, tables, params, dims, &mut counts, &mut present);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_published_sequence() {
        // First output of SplitMix64 seeded with 0 (Steele, Lea, Flood 2014; also java.util.SplittableRandom).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(1_234_567), 0x599E_D017_FB08_FC85);
    }

    struct Owned {
        f: Vec<Vec<f64>>,
        impulses: Vec<Vec<f64>>,
        traits: Vec<Vec<f64>>,
        u8s: Vec<Vec<u8>>,
        i32s: Vec<Vec<i32>>,
        on_shift: Vec<i64>,
        perception: Vec<u8>,
        priority: Vec<u8>,
        reason: Vec<u8>,
        ttl: Vec<u16>,
        rooms_f: Vec<Vec<f64>>,
        window_open: Vec<u8>,
        thermostat: Vec<f64>,
        door_closed: Vec<u8>,
        occupancy: Vec<i32>,
        chaos_left: Vec<i32>,
        chaos_room: Vec<i32>,
        chaos_started: Vec<u8>,
        tick: i64,
        stats: Vec<i64>,
        ac: f64,
    }

    fn owned(agents: usize, rooms: usize) -> Owned {
        Owned {
            f: vec![vec![50.0; agents]; 8],
            impulses: vec![vec![0.0; agents]; 2],
            traits: vec![vec![0.5; agents]; 3],
            u8s: vec![vec![0; agents]; 8],
            i32s: vec![
                vec![-1; agents],
                vec![-1; agents],
                vec![0; agents],
                vec![-1; agents],
                vec![0; agents],
                vec![0; agents],
            ],
            on_shift: vec![0; agents],
            perception: vec![0; agents * PERCEPTION_CHANNELS],
            priority: vec![EMPTY_PRIORITY; agents * 5],
            reason: vec![0; agents * 5],
            ttl: vec![0; agents * 5],
            rooms_f: vec![vec![1000.0; rooms], vec![21.0; rooms], vec![400.0; rooms]],
            window_open: vec![0; rooms],
            thermostat: vec![0.0; rooms],
            door_closed: vec![0; rooms],
            occupancy: vec![0; rooms],
            chaos_left: vec![0; 1],
            chaos_room: vec![-1; 1],
            chaos_started: vec![0; 1],
            tick: 0,
            stats: vec![0; STAT_COUNT],
            ac: 0.0,
        }
    }

    fn run(o: &mut Owned, params: &[f64], ticks: u64) -> CoreResult<()> {
        let rooms = o.window_open.len();
        let circadian = vec![80.0; 2 * MINUTES_PER_DAY];
        let sun = vec![0.0; MINUTES_PER_DAY];
        let shift_by_hour = vec![1u8; 24];
        let ints = [3600i64, 0, -1, 30];
        let room_floor = vec![0u8; rooms];
        let room_code = vec![0u8; rooms];
        let room_window = vec![0u8; rooms];
        let air = vec![0.0; rooms * AIR_WIDTH];
        let room_door = vec![1u8; rooms];
        let street = vec![0.0; rooms * HOURS_PER_DAY];
        let capacity = vec![2i32; rooms];
        let order: Vec<i32> = (0..rooms as i32).collect();
        let neighbours: Vec<i32> = (0..rooms as i32).map(|r| (r + 1) % rooms as i32).collect();
        let transit = vec![3i32; rooms * rooms];
        let tables = WorldTables {
            circadian: &circadian,
            sun: &sun,
            shift_by_hour: &shift_by_hour,
            ints: &ints,
            room_code: &room_code,
            room_window: &room_window,
            room_air: &air,
            room_door: &room_door,
            street_noise: &street,
            room_capacity: &capacity,
            spawn_order: &order,
            neighbours: &neighbours,
            transit_ticks: &transit,
            ttl: &[255, 60, 30, 10],
            chaos_threshold: &[0],
            chaos_duration: &[10],
            chaos_factor: &[1.0],
            chaos_fixed_room: &[-1],
            room_floor: &room_floor,
            meet_threshold: &[0],
        };
        let [hunger, energy, bladder, stress, social, caffeine, valence, arousal] = &mut o.f[..]
        else {
            unreachable!()
        };
        let [extraversion, neuroticism, tolerance] = &o.traits[..] else {
            unreachable!()
        };
        let [morning, shift_set, active, emotion, deadline, conflict, pending, walk_paired] =
            &mut o.u8s[..]
        else {
            unreachable!()
        };
        let [room, destination, transit_left, move_order, chat_left, arrival_left] =
            &mut o.i32s[..]
        else {
            unreachable!()
        };
        let [valence_impulse, arousal_impulse] = &mut o.impulses[..] else {
            unreachable!()
        };
        let [noise, temperature, co2] = &mut o.rooms_f[..] else {
            unreachable!()
        };
        let mut state = WorldState {
            hunger,
            energy,
            bladder,
            stress,
            social,
            caffeine,
            valence,
            arousal,
            extraversion,
            neuroticism,
            caffeine_tolerance: tolerance,
            valence_impulse,
            arousal_impulse,
            morning_person: morning,
            shift_set,
            active,
            emotion,
            deadline,
            conflict,
            pending,
            room,
            destination,
            transit_left,
            move_order,
            chat_left,
            walk_paired,
            arrival_left,
            on_shift_ticks: &mut o.on_shift,
            perception: &mut o.perception,
            queue_priority: &mut o.priority,
            queue_reason: &mut o.reason,
            queue_ttl: &mut o.ttl,
            noise,
            temperature,
            co2,
            window_open: &o.window_open,
            thermostat: &o.thermostat,
            door_closed: &o.door_closed,
            occupancy: &mut o.occupancy,
            chaos_left: &mut o.chaos_left,
            chaos_room: &mut o.chaos_room,
            chaos_started: &mut o.chaos_started,
            tick: &mut o.tick,
            stats: &mut o.stats,
            ac_offset: &mut o.ac,
            seed: 42,
        };
        step(&mut state, &tables, params, ticks)
    }

    #[test]
    fn agents_of_the_shift_arrive_and_get_hungry() {
        let mut params = vec![0.0; PARAM_COUNT];
        params[TIME_SCALE] = 1.0;
        params[HUNGER_RATE] = 1.0;
        params[SPAWN_HUNGER] = 10.0;
        let mut o = owned(4, 3);
        o.u8s[1] = vec![1, 1, 2, 0]; // shift sets: two on shift 1, one on 2, one always on
        run(&mut o, &params, 5).unwrap();
        assert_eq!(o.u8s[2], vec![1, 1, 0, 1]);
        assert_eq!(o.f[0], vec![15.0, 15.0, 50.0, 15.0]);
        // the first room holds two: the third arrival spills over into the next
        assert_eq!(o.occupancy, vec![2, 1, 0]);
        assert_eq!(o.tick, 5);
        assert_eq!(o.stats[STAT_SPAWNED], 3);
    }

    #[test]
    fn wrong_sizes_are_refused_before_anything_changes() {
        let params = vec![0.0; PARAM_COUNT];
        let mut o = owned(4, 3);
        o.f[1].pop();
        let err = run(&mut o, &params, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "world component \"energy\" has 3 elements, expected 4"
        );
        assert_eq!(o.tick, 0);
        let mut o = owned(4, 3);
        assert!(run(&mut o, &params[1..], 1).is_err());
        let mut o = owned(4, 3);
        o.i32s[0][2] = 7;
        let err = run(&mut o, &params, 1).unwrap_err();
        assert!(err.to_string().contains("\"room\" holds a room outside"));
    }
}
