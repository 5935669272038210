//! The synthetic data itself: where issues are, what they say, when they were reported,
//! and by whom. One seeded generator makes every row, in order.

use chrono::{DateTime, NaiveDateTime, SecondsFormat};
use rand::distributions::WeightedIndex;
use rand::prelude::*;
use rand::rngs::StdRng;
use serde_json::{Map, Value};
use std::f64::consts::TAU;

use super::words::{self, Templates};
use super::{Plan, ReportedEvent, SeedIssue};
use crate::accounts::models::NewAccount;
use crate::categories::answers::validate_answers;
use crate::categories::models::{Category, Datatype, Question};
use crate::db;
use crate::domain::Role;
use crate::issues::lifecycle::Status;
use crate::issues::models::EARTH_RADIUS_M;
use crate::issues::timeline::EventKind;

const HOUR_MS: u64 = 60 * 60 * 1000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// How far back issues go; accounts were opened in the same span before that.
const HISTORY_MS: u64 = 180 * DAY_MS;
/// Kilometres per degree of latitude.
const KM_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0 / 1000.0;
/// Issues scattered over the whole area rather than in a neighbourhood.
const BACKGROUND_SHARE: f64 = 0.1;
/// Reports whose reporter asked to stay anonymous.
const ANONYMOUS_SHARE: f64 = 0.1;
/// Reports that give a street address.
const ADDRESS_SHARE: f64 = 0.7;
/// How many issues end in each status, relative to the others.
const STATUS_WEIGHTS: [(Status, u32); 8] = [
    (Status::Reported, 40),
    (Status::Community, 16),
    (Status::Escalated, 14),
    (Status::Acknowledged, 5),
    (Status::InProgress, 5),
    (Status::Resolved, 9),
    (Status::Fixed, 8),
    (Status::Declined, 3),
];

/// The email of seeded account number `n` (from 1).
pub fn email(n: u64) -> String {
    format!("seed-{n}@example.org")
}

/// A category as the generator uses it.
struct SeedCategory {
    code: String,
    templates: Templates,
    questions: Vec<Question>,
}

/// A cluster of reports: a neighbourhood with streets of its own.
struct Neighbourhood {
    lat: f64,
    lon: f64,
    sigma_km: f64,
    streets: Vec<String>,
}

pub struct Generator<'p> {
    plan: &'p Plan,
    rng: StdRng,
    now_ms: u64,
    categories: Vec<SeedCategory>,
    /// `None` when there are no categories (and so no issues to make).
    category_weights: Option<WeightedIndex<u32>>,
    neighbourhoods: Vec<Neighbourhood>,
    neighbourhood_weights: WeightedIndex<f64>,
    status_weights: WeightedIndex<u32>,
    /// The accounts made so far, in order: the reporters of the issues.
    account_ids: Vec<uuid::Uuid>,
}

impl<'p> Generator<'p> {
    pub fn new(plan: &'p Plan, categories: Vec<Category>) -> anyhow::Result<Self> {
        let categories: Vec<SeedCategory> = categories
            .into_iter()
            .map(|category| SeedCategory {
                templates: words::templates(&category.code).unwrap_or(words::GENERIC),
                code: category.code,
                questions: category.questions,
            })
            .collect();
        let category_weights =
            WeightedIndex::new(categories.iter().map(|c| words::weight(&c.code))).ok();
        let mut rng = StdRng::seed_from_u64(plan.seed);
        let neighbourhoods = neighbourhoods(&mut rng, plan);
        let neighbourhood_weights = WeightedIndex::new(
            neighbourhoods
                .iter()
                .map(|_| rng.gen_range(0.5..2.0))
                .collect::<Vec<f64>>(),
        )?;
        // Whole milliseconds, so a time and the UUIDv7 made from it agree exactly.
        let now_ms = u64::try_from(db::now().and_utc().timestamp_millis())?;
        Ok(Self {
            plan,
            rng,
            now_ms,
            categories,
            category_weights,
            neighbourhoods,
            neighbourhood_weights,
            status_weights: WeightedIndex::new(STATUS_WEIGHTS.map(|(_, weight)| weight))?,
            account_ids: Vec::new(),
        })
    }

    /// Account number `n` (from 0): a citizen with a verified email, opened in the 180
    /// days before the first issue, in order.
    pub fn account(&mut self, n: u64, password_hash: &str) -> anyhow::Result<NewAccount> {
        let start_ms = self.now_ms - 2 * HISTORY_MS;
        let created_ms = slot_time(&mut self.rng, start_ms, HISTORY_MS, n, self.plan.accounts);
        let verified_ms = created_ms + self.rng.gen_range(60_000..HOUR_MS);
        let id = self.uuid_at(created_ms);
        self.account_ids.push(id);
        let first = words::FIRST_NAMES.choose(&mut self.rng).unwrap_or(&"Sam");
        let initial = char::from(b'A' + self.rng.gen_range(0..26));
        Ok(NewAccount {
            id: id.to_string(),
            email: email(n + 1),
            display_name: format!("{first} {initial}."),
            password_hash: password_hash.to_owned(),
            role: Role::Citizen.as_str().to_owned(),
            email_verified_at: Some(time(verified_ms)?),
            created_at: time(created_ms)?,
            updated_at: time(verified_ms)?,
        })
    }

    /// Issue number `n` (from 0), with its `reported` event. The issues are spread evenly
    /// over the last 180 days, in order, so their ids (UUIDv7 of the creation time) rise.
    pub fn issue(&mut self, n: u64) -> anyhow::Result<(SeedIssue, ReportedEvent)> {
        let start_ms = self.now_ms - HISTORY_MS;
        let created_ms = slot_time(&mut self.rng, start_ms, HISTORY_MS, n, self.plan.issues);
        let id = self.uuid_at(created_ms).to_string();
        let event_id = self.uuid_at(created_ms).to_string();

        let (lat, lon, street) = self.place();
        let number = self.rng.gen_range(1..=180);
        let category = self
            .category_weights
            .as_ref()
            .map(|weights| weights.sample(&mut self.rng))
            .ok_or_else(|| anyhow::anyhow!("there are no active categories"))?;
        let fill = |template: &str| {
            template
                .replace("{street}", &street)
                .replace("{number}", &number.to_string())
        };
        let (title, description) = self.categories[category]
            .templates
            .choose(&mut self.rng)
            .unwrap_or(&("Problem on {street}", ""));
        let title = fill(title);
        let mut description = fill(description);
        let aside = words::ASIDES.choose(&mut self.rng).unwrap_or(&"");
        if !aside.is_empty() {
            description.push(' ');
            description.push_str(aside);
        }
        let answers = self.answers(category, created_ms)?;
        let address = self
            .rng
            .gen_bool(ADDRESS_SHARE)
            .then(|| format!("{number} {street}"));

        let (status, _) = STATUS_WEIGHTS[self.status_weights.sample(&mut self.rng)];
        let (updated_ms, closed_ms) = match status {
            Status::Reported => (created_ms, None),
            status if status.is_open() => {
                let moved = created_ms + self.rng.gen_range(HOUR_MS..30 * DAY_MS);
                (moved.min(self.now_ms), None)
            }
            _ => {
                let closed = created_ms + self.rng.gen_range(DAY_MS..60 * DAY_MS);
                (closed.min(self.now_ms), Some(closed.min(self.now_ms)))
            }
        };
        // A few busy residents report a lot; most report now and then.
        let share = self.rng.r#gen::<f64>().powi(2);
        let reporter = self
            .account_ids
            .get((share * self.account_ids.len() as f64) as usize)
            .ok_or_else(|| anyhow::anyhow!("issues need an account to report them"))?
            .to_string();
        let anonymous = self.rng.gen_bool(ANONYMOUS_SHARE);

        let created_at = time(created_ms)?;
        let event = ReportedEvent {
            id: event_id,
            issue_id: id.clone(),
            kind: EventKind::Reported.as_str(),
            actor_id: Some(reporter.clone()),
            actor_role: Some(Role::Citizen.as_str()),
            to_status: Some(Status::Reported.as_str()),
            created_at,
        };
        let issue = SeedIssue {
            id,
            category_code: self.categories[category].code.clone(),
            title,
            description,
            lat,
            lon,
            address,
            answers,
            status: status.as_str(),
            reporter_id: Some(reporter),
            anonymous,
            closed_at: closed_ms.map(time).transpose()?,
            created_at,
            updated_at: time(updated_ms)?,
        };
        Ok((issue, event))
    }

    /// A UUIDv7 for a time, its random part from the seeded generator.
    fn uuid_at(&mut self, ms: u64) -> uuid::Uuid {
        let bytes: [u8; 10] = self.rng.r#gen();
        uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid()
    }

    /// Where an issue is, and its street: mostly in a neighbourhood, sometimes anywhere
    /// in the area; always within the spread of the centre.
    fn place(&mut self) -> (f64, f64, String) {
        let plan = self.plan;
        if self.rng.gen_bool(BACKGROUND_SHARE) {
            let (lat, lon) = in_disc(
                &mut self.rng,
                plan.centre_lat,
                plan.centre_lon,
                plan.spread_km,
            );
            return (lat, lon, street(&mut self.rng));
        }
        let hood = &self.neighbourhoods[self.neighbourhood_weights.sample(&mut self.rng)];
        let street = hood
            .streets
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or_default();
        // Redraw the rare points that fall outside the area; past a few tries, the
        // neighbourhood's centre will do.
        for _ in 0..8 {
            let (north, east) = standard_normal_pair(&mut self.rng);
            let (lat, lon) = offset(
                hood.lat,
                hood.lon,
                north * hood.sigma_km,
                east * hood.sigma_km,
            );
            if planar_km(plan.centre_lat, plan.centre_lon, lat, lon) <= plan.spread_km {
                return (lat, lon, street);
            }
        }
        (hood.lat, hood.lon, street)
    }

    /// Answers to a category's questions: every required one and half of the others,
    /// each with a value of its datatype, checked by the rules a real report meets.
    fn answers(&mut self, category: usize, created_ms: u64) -> anyhow::Result<String> {
        let SeedCategory {
            code, questions, ..
        } = &self.categories[category];
        let rng = &mut self.rng;
        let mut answers = Map::new();
        for question in questions {
            if !question.required && !rng.gen_bool(0.5) {
                continue;
            }
            let value = match question.datatype {
                Datatype::SingleValueList => question
                    .values
                    .choose(rng)
                    .map_or(Value::Null, |v| Value::String(v.key.clone())),
                Datatype::MultiValueList => {
                    let count = rng.gen_range(1..=question.values.len().clamp(1, 3));
                    Value::Array(
                        question
                            .values
                            .choose_multiple(rng, count)
                            .map(|v| Value::String(v.key.clone()))
                            .collect(),
                    )
                }
                Datatype::Number => Value::from(rng.gen_range(1..=30)),
                Datatype::String => Value::String(format!(
                    "{}{}{:04}",
                    char::from(b'A' + rng.gen_range(0..26)),
                    char::from(b'A' + rng.gen_range(0..26)),
                    rng.gen_range(0..10_000)
                )),
                Datatype::Text => Value::String(
                    (*words::ASIDES[2..].choose(rng).unwrap_or(&"Seen often.")).to_owned(),
                ),
                Datatype::Datetime => {
                    let seen_ms = created_ms.saturating_sub(rng.gen_range(0..3 * DAY_MS));
                    Value::String(
                        time(seen_ms)?
                            .and_utc()
                            .to_rfc3339_opts(SecondsFormat::Secs, true),
                    )
                }
            };
            answers.insert(question.code.clone(), value);
        }
        let answers = validate_answers(questions, &answers).map_err(|errors| {
            let first = errors
                .first()
                .map(|e| format!("{}: {}", e.field, e.message))
                .unwrap_or_default();
            anyhow::anyhow!("category {code}: cannot answer its questions ({first})")
        })?;
        Ok(Value::Object(answers).to_string())
    }
}

/// Four to twelve neighbourhoods inside the area, each a Gaussian blob 5–20 % of the
/// spread wide, with a dozen streets of its own.
fn neighbourhoods(rng: &mut StdRng, plan: &Plan) -> Vec<Neighbourhood> {
    let count = rng.gen_range(4..=12);
    (0..count)
        .map(|_| {
            let (lat, lon) = in_disc(rng, plan.centre_lat, plan.centre_lon, plan.spread_km * 0.7);
            Neighbourhood {
                lat,
                lon,
                sigma_km: plan.spread_km * rng.gen_range(0.05..0.2),
                streets: (0..12).map(|_| street(rng)).collect(),
            }
        })
        .collect()
}

/// A time in slot `n` of `count` equal slots of `span_ms` from `start_ms`: times rise with
/// `n` and, with at most ten million slots in 180 days, never repeat a millisecond.
fn slot_time(rng: &mut StdRng, start_ms: u64, span_ms: u64, n: u64, count: u64) -> u64 {
    let from = start_ms + n * span_ms / count;
    let to = start_ms + (n + 1) * span_ms / count;
    rng.gen_range(from..to.max(from + 1))
}

/// A stored time from Unix milliseconds.
fn time(ms: u64) -> anyhow::Result<NaiveDateTime> {
    DateTime::from_timestamp_millis(i64::try_from(ms)?)
        .map(|t| t.naive_utc())
        .ok_or_else(|| anyhow::anyhow!("time out of range: {ms} ms"))
}

fn street(rng: &mut StdRng) -> String {
    format!(
        "{} {}",
        words::STREET_STEMS.choose(rng).unwrap_or(&"High"),
        words::STREET_KINDS.choose(rng).unwrap_or(&"Street")
    )
}

/// Two independent standard normal numbers (Box–Muller).
fn standard_normal_pair(rng: &mut StdRng) -> (f64, f64) {
    // 1 - [0, 1) is (0, 1]: never the logarithm of zero.
    let radius = (-2.0 * (1.0 - rng.r#gen::<f64>()).ln()).sqrt();
    let angle = TAU * rng.r#gen::<f64>();
    (radius * angle.cos(), radius * angle.sin())
}

/// A point uniformly distributed over the disc of `radius_km` around (lat, lon).
fn in_disc(rng: &mut StdRng, lat: f64, lon: f64, radius_km: f64) -> (f64, f64) {
    let radius = radius_km * rng.r#gen::<f64>().sqrt();
    let angle = TAU * rng.r#gen::<f64>();
    offset(lat, lon, radius * angle.sin(), radius * angle.cos())
}

/// The point `north_km` and `east_km` from (lat, lon), kept on the map and rounded to
/// six decimals (about 10 cm, what a phone reports).
fn offset(lat: f64, lon: f64, north_km: f64, east_km: f64) -> (f64, f64) {
    let lon_scale = KM_PER_DEGREE * lat.to_radians().cos().max(0.01);
    let lat = (lat + north_km / KM_PER_DEGREE).clamp(-90.0, 90.0);
    let lon = (lon + east_km / lon_scale).clamp(-180.0, 180.0);
    ((lat * 1e6).round() / 1e6, (lon * 1e6).round() / 1e6)
}

/// Distance in kilometres on the local flat map (close enough within 200 km).
fn planar_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let north = (lat2 - lat1) * KM_PER_DEGREE;
    let east = (lon2 - lon1) * KM_PER_DEGREE * lat1.to_radians().cos();
    north.hypot(east)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_times_rise_and_never_share_a_millisecond() {
        let mut rng = StdRng::seed_from_u64(1);
        let count = 10_000_000;
        let mut last = None;
        for n in (0..count).step_by(997).chain(count - 3..count) {
            let time = slot_time(&mut rng, 0, HISTORY_MS, n, count);
            let next = slot_time(&mut rng, 0, HISTORY_MS, n + 1, count);
            assert!(time < next || n + 1 == count, "{n}");
            assert!(last.is_none_or(|last| last < time));
            assert!(time < HISTORY_MS);
            last = Some(time);
        }
    }

    #[test]
    fn offsets_are_as_far_as_asked() {
        for (lat, lon) in [(51.5072, -0.1276), (-33.87, 151.21), (64.14, -21.94)] {
            let (north, east) = (3.0, -4.0);
            let (lat2, lon2) = offset(lat, lon, north, east);
            let km = planar_km(lat, lon, lat2, lon2);
            assert!((km - 5.0).abs() < 0.01, "{lat},{lon}: {km}");
        }
    }

    #[test]
    fn points_in_a_disc_stay_in_it_and_on_the_map() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..10_000 {
            let (lat, lon) = in_disc(&mut rng, 51.5, -0.1, 10.0);
            assert!(planar_km(51.5, -0.1, lat, lon) <= 10.001);
            let (lat, lon) = in_disc(&mut rng, 89.9, 179.9, 200.0);
            assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
        }
    }

    #[test]
    fn normal_numbers_have_mean_zero_and_unit_spread() {
        let mut rng = StdRng::seed_from_u64(3);
        let samples: Vec<f64> = (0..50_000)
            .flat_map(|_| {
                let (a, b) = standard_normal_pair(&mut rng);
                [a, b]
            })
            .collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let variance =
            samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.02, "{mean}");
        assert!((variance - 1.0).abs() < 0.03, "{variance}");
    }

    #[test]
    fn every_starter_category_has_templates_that_fill_a_valid_title() {
        for code in [
            "pothole",
            "litter",
            "fly_tipping",
            "graffiti",
            "street_light",
            "overgrown_vegetation",
            "blocked_drain",
            "damaged_bench",
            "dog_fouling",
            "abandoned_vehicle",
            "play_area",
            "other",
        ] {
            let templates = words::templates(code).unwrap();
            for (title, description) in templates {
                let title = title
                    .replace("{street}", "Queen's Crescent")
                    .replace("{number}", "180");
                assert!(
                    crate::domain::Title::parse("title", &title).is_ok(),
                    "{title}"
                );
                assert!(!description.is_empty());
            }
        }
    }
}
