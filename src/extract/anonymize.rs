//! k-anonymity of the quasi-identifiers (see the header of [`super`]): the tuples packed one
//! per record into a `u64`, the number of records compatible with each (NULL matching every
//! value), and [`anonymize`] in its phases: generalize the area, then suppress local values
//! of households and persons until every record has k compatible ones.

use std::collections::BTreeMap;

// hashbrown with foldhash: the tuples are u64 keys, tallied and looked up tens of millions of
// times at national size (SipHash cost several seconds). No result depends on the order.
use datafusion::common::HashMap;

use super::ExtractError;

/// Quasi-identifier tuples, packed one per record into a `u64`: a field per variable, 0 when
/// the value is missing or suppressed (a NULL, compatible with every value). The area is the
/// county or prefecture code itself; the other fields hold their value + 1.
pub(super) const AREA: usize = 0;
pub(super) const SIZE: usize = 1;
pub(super) const SEX: usize = 2;
pub(super) const AGE: usize = 3;
pub(super) const ETH: usize = 4;
pub(super) const DIS: usize = 5;
pub(super) const SHIFT: [u32; 6] = [40, 32, 24, 16, 8, 0];
pub(super) const WIDTH: [u64; 6] = [0xF_FFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
/// Household-level quasi-identifiers (area, household size), and the person-level ones that
/// follow them in a person's tuple.
pub(super) const HOUSEHOLD_QI: [usize; 2] = [AREA, SIZE];
/// The household-level values that may be suppressed: the area only. The household size is
/// the number of persons sharing the household key, so a researcher would recount it.
const HOUSEHOLD_SUPPRESSIBLE: [usize; 1] = [AREA];
pub(super) const PERSON_QI: [usize; 4] = [SEX, AGE, ETH, DIS];
pub(super) const ALL_QI: [usize; 6] = [AREA, SIZE, SEX, AGE, ETH, DIS];
pub(super) const QI_NAMES: [&str; 6] = [
    "area_code",
    "household_size",
    "sex",
    "age_band",
    "ethnicity_group",
    "disabled",
];

pub(super) fn field_mask(p: usize) -> u64 {
    WIDTH[p] << SHIFT[p]
}

/// The value at position `p`: 0 when missing, else the area code or the value + 1.
pub(super) fn field(t: u64, p: usize) -> u32 {
    ((t >> SHIFT[p]) & WIDTH[p]) as u32
}

/// A household tuple from its area code and household size (`None`: missing).
pub fn pack_household(area: Option<u32>, size: Option<u32>) -> u64 {
    let mut t = 0;
    if let Some(a) = area {
        t |= (u64::from(a) & WIDTH[AREA]) << SHIFT[AREA];
    }
    if let Some(s) = size {
        t |= u64::from(s.min(254) + 1) << SHIFT[SIZE];
    }
    t
}

/// The person-level part of a person tuple: sex, age band, ethnicity group, disabled.
pub fn pack_person(values: [Option<u32>; 4]) -> u32 {
    values
        .iter()
        .zip(PERSON_QI)
        .filter_map(|(v, p)| v.map(|v| (v.min(254) + 1) << SHIFT[p]))
        .fold(0, |t, v| t | v)
}

/// The value at `p` as published: the area code itself, the other variables without the + 1.
pub(super) fn value(t: u64, p: usize) -> Option<u32> {
    match field(t, p) {
        0 => None,
        v if p == AREA => Some(v),
        v => Some(v - 1),
    }
}

/// Records per distinct tuple.
pub(super) fn tally(tuples: impl Iterator<Item = u64>) -> HashMap<u64, u64> {
    let mut m = HashMap::new();
    for t in tuples {
        *m.entry(t).or_default() += 1;
    }
    m
}

/// For every distinct tuple of `distinct` (tuple → records), the number of records compatible
/// with it, itself included: records that agree with it at every position of `positions` where
/// both have a value. Tuples are grouped by their pattern of missing values, so it costs a
/// hash pass per pair of patterns rather than a comparison per pair of records.
pub fn compatible_counts(distinct: &HashMap<u64, u64>, positions: &[usize]) -> HashMap<u64, u64> {
    let all = positions.iter().fold(0, |m, &p| m | field_mask(p));
    let nulls = |t: u64| {
        positions
            .iter()
            .filter(|&&p| field(t, p) == 0)
            .fold(0, |m, &p| m | field_mask(p))
    };
    let mut by_pattern: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for (&t, &c) in distinct {
        by_pattern.entry(nulls(t)).or_default().push((t, c));
    }
    let mut out = HashMap::with_capacity(distinct.len());
    for (&a, tuples) in &by_pattern {
        let mut totals = vec![0u64; tuples.len()];
        for (&b, others) in &by_pattern {
            // The positions where both patterns have values.
            let m = all & !(a | b);
            let mut projected: HashMap<u64, u64> = HashMap::new();
            for &(u, c) in others {
                *projected.entry(u & m).or_default() += c;
            }
            for (total, &(t, _)) in totals.iter_mut().zip(tuples) {
                *total += projected.get(&(t & m)).copied().unwrap_or(0);
            }
        }
        out.extend(tuples.iter().zip(totals).map(|(&(t, _), n)| (t, n)));
    }
    out
}

/// Records per value at each of `positions` (missing values not counted).
fn frequencies(distinct: &HashMap<u64, u64>, positions: &[usize]) -> [HashMap<u32, u64>; 6] {
    let mut f: [HashMap<u32, u64>; 6] = Default::default();
    for (&t, &c) in distinct {
        for &p in positions {
            let v = field(t, p);
            if v != 0 {
                *f[p].entry(v).or_default() += c;
            }
        }
    }
    f
}

/// Among `positions` with a value in `t`, the one whose value is rarest (ties: first position).
fn rarest(t: u64, positions: &[usize], freq: &[HashMap<u32, u64>; 6]) -> Option<usize> {
    positions
        .iter()
        .filter(|&&p| field(t, p) != 0)
        .map(|&p| (freq[p].get(&field(t, p)).copied().unwrap_or(0), p))
        .min()
        .map(|(_, p)| p)
}

/// The anonymized quasi-identifiers: household tuples, and persons as their household's index
/// and their own (person-level) part.
#[derive(Debug, Clone)]
pub struct Anonymized {
    pub households: Vec<u64>,
    pub person_household: Vec<u32>,
    pub person_values: Vec<u32>,
    pub generalized_households: usize,
    pub rounds: usize,
}

impl Anonymized {
    /// The full tuple of person `i`.
    pub fn person(&self, i: usize) -> u64 {
        self.households[self.person_household[i] as usize] | u64::from(self.person_values[i])
    }

    pub(super) fn person_tally(&self) -> HashMap<u64, u64> {
        tally((0..self.person_values.len()).map(|i| self.person(i)))
    }
}

/// Make households and persons k-anonymous (see the module header). `households` are packed
/// household tuples with the county as area; person `i` belongs to household
/// `person_household[i]` and has the person-level values `person_values[i]`
/// ([`pack_person`]). Only the packed tuples are held: 8 bytes per household and per person.
pub fn anonymize(
    households: Vec<u64>,
    person_household: Vec<u32>,
    person_values: Vec<u32>,
    k: usize,
) -> Result<Anonymized, ExtractError> {
    // An empty census is trivially k-anonymous: its tables are written empty.
    if !households.is_empty() && households.len() < k {
        return Err(ExtractError::TooFew {
            table: "households",
            records: households.len(),
            k,
        });
    }
    if !person_values.is_empty() && person_values.len() < k {
        return Err(ExtractError::TooFew {
            table: "persons",
            records: person_values.len(),
            k,
        });
    }
    let k = k as u64;
    let mut a = Anonymized {
        households,
        person_household,
        person_values,
        generalized_households: 0,
        rounds: 0,
    };
    generalize_areas(&mut a, k);
    // 2–3. Local suppression until both tables are k-anonymous. Which value a record loses
    // depends only on its tuple and the frequencies, so records with one tuple fare alike.
    loop {
        a.rounds += 1;
        suppress_households(&mut a.households, k)?;
        if !suppress_persons(&mut a, k)? {
            break;
        }
    }
    Ok(a)
}

/// Step 1: county → prefecture for households in small classes, or with a member in one.
fn generalize_areas(a: &mut Anonymized, k: u64) {
    let hc = compatible_counts(&tally(a.households.iter().copied()), &HOUSEHOLD_QI);
    let mut generalize: Vec<bool> = a.households.iter().map(|t| hc[t] < k).collect();
    drop(hc);
    let pc = compatible_counts(&a.person_tally(), &ALL_QI);
    for i in 0..a.person_values.len() {
        if pc[&a.person(i)] < k {
            generalize[a.person_household[i] as usize] = true;
        }
    }
    drop(pc);
    for (t, g) in a.households.iter_mut().zip(&generalize) {
        if *g {
            let prefecture = field(*t, AREA) / 100;
            *t = (*t & !field_mask(AREA)) | (u64::from(prefecture) << SHIFT[AREA]);
            a.generalized_households += 1;
        }
    }
}

/// Step 2: households in classes smaller than k lose their area, until none is left. A
/// household still in a class smaller than k then (too few households of its size) is an
/// error: its size cannot be hidden.
fn suppress_households(households: &mut [u64], k: u64) -> Result<(), ExtractError> {
    loop {
        let distinct = tally(households.iter().copied());
        let hc = compatible_counts(&distinct, &HOUSEHOLD_QI);
        let freq = frequencies(&distinct, &HOUSEHOLD_QI);
        let small: Vec<u64> = hc
            .iter()
            .filter(|(_, c)| **c < k)
            .map(|(t, _)| *t)
            .collect();
        let fix: HashMap<u64, u64> = small
            .iter()
            .filter_map(|&t| {
                rarest(t, &HOUSEHOLD_SUPPRESSIBLE, &freq).map(|p| (t, t & !field_mask(p)))
            })
            .collect();
        if fix.is_empty() {
            return match small.iter().map(|t| distinct[t]).sum::<u64>() {
                0 => Ok(()),
                n => Err(ExtractError::SizeDisclosed {
                    table: "households",
                    records: n as usize,
                    k: k as usize,
                }),
            };
        }
        for t in households.iter_mut() {
            if let Some(n) = fix.get(t) {
                *t = *n;
            }
        }
    }
}

/// Step 3: persons in classes smaller than k lose their rarest person-level value, or when
/// none is left their household's area. False when every person was already k-anonymous; an
/// error when nothing is left to suppress (too few persons in households of their size).
fn suppress_persons(a: &mut Anonymized, k: u64) -> Result<bool, ExtractError> {
    let distinct = a.person_tally();
    let pc = compatible_counts(&distinct, &ALL_QI);
    if pc.values().all(|c| *c >= k) {
        return Ok(false);
    }
    let mut changed = false;
    let mut stuck = 0;
    let freq = frequencies(&distinct, &PERSON_QI);
    let hfreq = frequencies(&tally(a.households.iter().copied()), &HOUSEHOLD_QI);
    drop(distinct);
    for i in 0..a.person_values.len() {
        let t = a.person(i);
        if pc[&t] >= k {
            continue;
        }
        match rarest(t, &PERSON_QI, &freq) {
            Some(p) => a.person_values[i] &= !(field_mask(p) as u32),
            None => {
                // Nothing personal left to suppress: the household's area goes.
                let h = &mut a.households[a.person_household[i] as usize];
                match rarest(*h, &HOUSEHOLD_SUPPRESSIBLE, &hfreq) {
                    Some(p) => *h &= !field_mask(p),
                    None => {
                        stuck += 1;
                        continue;
                    }
                }
            }
        }
        changed = true;
    }
    if !changed {
        return Err(ExtractError::SizeDisclosed {
            table: "persons",
            records: stuck,
            k: k as usize,
        });
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per record, the number of compatible records (via the distinct tuples).
    fn per_record(rows: &[u64], positions: &[usize]) -> Vec<u64> {
        let c = compatible_counts(&tally(rows.iter().copied()), positions);
        rows.iter().map(|r| c[r]).collect()
    }

    #[test]
    fn compatible_counts_treat_null_as_any_value() {
        let rows: Vec<u64> = [
            (Some(1), Some(1)),
            (Some(1), Some(1)),
            (Some(1), Some(2)),
            (None, Some(2)),
            (Some(3), None),
            (None, None),
        ]
        .iter()
        .map(|(a, s)| pack_household(*a, *s))
        .collect();
        // Brute force.
        let brute: Vec<u64> = rows
            .iter()
            .map(|a| {
                rows.iter()
                    .filter(|b| {
                        HOUSEHOLD_QI.iter().all(|&p| {
                            field(*a, p) == 0 || field(**b, p) == 0 || field(*a, p) == field(**b, p)
                        })
                    })
                    .count() as u64
            })
            .collect();
        assert_eq!(per_record(&rows, &HOUSEHOLD_QI), brute);
        assert_eq!(brute, vec![3, 3, 3, 4, 3, 6]);
    }

    #[test]
    fn packing_round_trips_every_value() {
        let t = pack_household(Some(659_999), Some(0))
            | u64::from(pack_person([Some(2), Some(0), Some(99), None]));
        assert_eq!(value(t, AREA), Some(659_999));
        assert_eq!(value(t, SIZE), Some(0));
        assert_eq!(value(t, SEX), Some(2));
        assert_eq!(value(t, AGE), Some(0));
        assert_eq!(value(t, ETH), Some(99));
        assert_eq!(value(t, DIS), None);
    }

    #[test]
    fn anonymize_reaches_k_and_generalizes_first() {
        // Two counties of one prefecture: 520101 with 6 households of size 3, 520102 with one
        // household of size 3 (unique at county level → prefecture).
        let county = [520101, 520101, 520101, 520101, 520101, 520101, 520102];
        let households: Vec<u64> = county
            .iter()
            .map(|c| pack_household(Some(*c), Some(3)))
            .collect();
        let mut values = vec![pack_person([Some(1), Some(6), Some(1), Some(2)]); 7];
        values[0] = pack_person([Some(2), Some(16), Some(3), Some(1)]); // unique person
        let a = anonymize(households.clone(), (0..7).collect(), values.clone(), 3).unwrap();
        let persons: Vec<u64> = (0..7).map(|i| a.person(i)).collect();
        assert!(per_record(&persons, &ALL_QI).iter().all(|c| *c >= 3));
        assert!(
            per_record(&a.households, &HOUSEHOLD_QI)
                .iter()
                .all(|c| *c >= 3)
        );
        assert!(a.generalized_households >= 2);
        assert_eq!(
            value(a.households[6], AREA).filter(|a| *a > 9999),
            None,
            "520102 → 5201 or NULL"
        );
        assert!(PERSON_QI.iter().any(|p| value(persons[0], *p).is_none()));
        // Records are never dropped, and the others keep their values.
        assert_eq!(persons.len(), 7);
        assert_eq!(value(persons[3], AGE), Some(6));
        assert!(
            anonymize(
                households[..2].to_vec(),
                vec![0, 1],
                values[..2].to_vec(),
                3
            )
            .is_err()
        );
    }

    #[test]
    fn a_household_size_too_rare_to_hide_is_refused() {
        // Six households of size 3 and one of size 7: suppressing its area leaves it alone
        // among the households of size 7, and its size cannot be suppressed.
        let households: Vec<u64> = [3, 3, 3, 3, 3, 3, 7]
            .iter()
            .enumerate()
            .map(|(i, s)| pack_household(Some(520101 + (i % 2) as u32), Some(*s)))
            .collect();
        let values = vec![pack_person([Some(1), Some(6), Some(1), Some(2)]); 7];
        let e = anonymize(households, (0..7).collect(), values, 3).unwrap_err();
        assert!(
            matches!(
                e,
                ExtractError::SizeDisclosed {
                    table: "households",
                    records: 1,
                    k: 3
                }
            ),
            "{e}"
        );
    }

    /// Brute-force check on a random population: every record of both tables is compatible
    /// with at least k records, and households with several members stay linked.
    #[test]
    fn anonymize_random_population_is_k_anonymous() {
        let mut seed = 42u64;
        let mut next = |m: u32| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % u64::from(m)) as u32
        };
        let households: Vec<u64> = (0..300)
            .map(|_| pack_household(Some(520100 + 1 + next(6)), Some(1 + next(8))))
            .collect();
        let mut person_household = Vec::new();
        let mut values = Vec::new();
        for h in 0..300u32 {
            for _ in 0..=next(4) {
                person_household.push(h);
                values.push(pack_person([
                    Some(1 + next(2)),
                    Some(next(17)),
                    Some(1 + next(5)),
                    Some(1 + next(2)),
                ]));
            }
        }
        for k in [2, 5, 11] {
            let a = anonymize(
                households.clone(),
                person_household.clone(),
                values.clone(),
                k,
            )
            .unwrap();
            let persons: Vec<u64> = (0..values.len()).map(|i| a.person(i)).collect();
            let brute = |rows: &[u64], positions: &[usize]| -> u64 {
                rows.iter()
                    .map(|x| {
                        rows.iter()
                            .filter(|y| {
                                positions.iter().all(|&p| {
                                    field(*x, p) == 0
                                        || field(**y, p) == 0
                                        || field(*x, p) == field(**y, p)
                                })
                            })
                            .count() as u64
                    })
                    .min()
                    .unwrap()
            };
            assert!(brute(&persons, &ALL_QI) >= k as u64, "persons, k = {k}");
            // The household size is never suppressed: the household key gives it away.
            assert!(a.households.iter().all(|t| field(*t, SIZE) != 0));
            assert!(
                brute(&a.households, &HOUSEHOLD_QI) >= k as u64,
                "households, k = {k}"
            );
            assert_eq!(
                per_record(&persons, &ALL_QI).into_iter().min(),
                Some(brute(&persons, &ALL_QI))
            );
        }
    }
}
