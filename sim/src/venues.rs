//! [`Venues`]: several venues in one process (`eti-sim serve --venues N`), each a
//! whole [`Simulator`]: its own matching engine, ITCH/MoldUDP64 feed and
//! retransmission server, SoupBinTCP/OUCH port, fee schedule and added latency.
//!
//! Venue `i` runs `cfg.for_venue(i)` (see [`SimConfig::for_venue`]: ports moved
//! by 10 x i, sessions named after the venue). The synthetic flow of every venue
//! follows one reference-price walk (seeded by `flow.seed`) with its own orders
//! (seeded per venue) and its own liquidity shape, so the books differ by venue
//! around one price and the best price moves between venues.
//!
//! One venue (`n = 1`) is exactly [`Simulator::start`] on `cfg`.

use crate::config::SimConfig;
use crate::simulator::{SimError, Simulator, VenueFiles, VenueInfo};
use std::path::{Path, PathBuf};

/// The seed of venue `index`'s own order stream in a multi-venue run (the
/// reference walk uses `seed` itself on every venue).
pub fn venue_flow_seed(seed: u64, index: usize) -> u64 {
    // odd multiplier (the golden ratio's): distinct, well-spread seeds
    seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(index as u64 + 1)
}

/// `drop.jsonl` for venue `ETIY` becomes `drop.ETIY.jsonl` (a file without an
/// extension gets `.ETIY` appended). Each venue keeps its own day file, drop copy
/// and order log: a restarted venue replays its own day and counts its own lines.
pub fn venue_file(path: &Path, venue: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{venue}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{venue}"),
    };
    path.with_file_name(name)
}

/// Several running venues. Dropping it stops them all.
#[derive(Debug)]
pub struct Venues {
    venues: Vec<Simulator>,
}

impl Venues {
    /// Start the first `n` venues of `cfg.venues` (1..=`cfg.venues.len()`).
    pub fn start(cfg: &SimConfig, n: usize) -> Result<Venues, SimError> {
        Self::start_with_files(cfg, n, &VenueFiles::default())
    }

    /// As [`Venues::start`], each venue keeping its own files: with several
    /// venues every path gets the venue's name before its extension
    /// ([`venue_file`]); one venue uses the paths as given.
    pub fn start_with_files(
        cfg: &SimConfig,
        n: usize,
        files: &VenueFiles,
    ) -> Result<Venues, SimError> {
        cfg.validate()?;
        if n == 0 || n > cfg.venues.len() {
            return Err(crate::config::ConfigError::Invalid {
                key: "venues".into(),
                value: format!("{} entries for {n} venues", cfg.venues.len()),
                expected: "1..=(number of [[venues]] entries) venues",
            }
            .into());
        }
        if n == 1 {
            return Ok(Venues {
                venues: vec![Simulator::start_with_files(cfg, files)?],
            });
        }
        let mut venues = Vec::with_capacity(n);
        for i in 0..n {
            let venue = cfg.venues[i].name.clone();
            let named = |e: SimError| SimError::Venue {
                venue: venue.clone(),
                source: Box::new(e),
            };
            let mut c = cfg.for_venue(i).map_err(|e| named(e.into()))?;
            c.flow.seed = venue_flow_seed(cfg.flow.seed, i);
            let name = &c.venues[0].name;
            let each = |p: &Option<PathBuf>| p.as_deref().map(|p| venue_file(p, name));
            let f = VenueFiles {
                day: each(&files.day),
                drop_copy: each(&files.drop_copy),
                order_log: each(&files.order_log),
            };
            // a venue that cannot start stops the ones already running (drop)
            venues.push(Simulator::start_venue(&c, None, &f, Some(cfg.flow.seed)).map_err(named)?);
        }
        Ok(Venues { venues })
    }

    pub fn len(&self) -> usize {
        self.venues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.venues.is_empty()
    }

    /// Venue `i` (0 is the first `[[venues]]` entry).
    pub fn get(&self, i: usize) -> Option<&Simulator> {
        self.venues.get(i)
    }

    pub fn by_name(&self, name: &str) -> Option<&Simulator> {
        self.venues.iter().find(|v| v.venue().name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Simulator> {
        self.venues.iter()
    }

    /// Every venue's name, addresses, sessions, fees and latency, in order.
    pub fn info(&self) -> Vec<VenueInfo> {
        self.venues.iter().map(|v| v.venue().clone()).collect()
    }

    /// `n` synthetic-flow actions on every venue, venue by venue (the
    /// deterministic alternative to the timed flow; the reference prices stay
    /// equal across venues).
    pub fn flow_steps(&self, n: usize) {
        for v in &self.venues {
            v.flow_steps(n);
        }
    }

    /// End of day on every venue, then stop.
    pub fn stop(self) {
        for v in self.venues {
            v.stop();
        }
    }

    /// The venues, to own them one by one.
    pub fn into_vec(self) -> Vec<Simulator> {
        self.venues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_files_carry_the_venue_name_before_the_extension() {
        assert_eq!(
            venue_file(Path::new("/d/drop.jsonl"), "ETIY"),
            PathBuf::from("/d/drop.ETIY.jsonl")
        );
        assert_eq!(
            venue_file(Path::new("day"), "ETIZ"),
            PathBuf::from("day.ETIZ")
        );
    }

    #[test]
    fn venues_get_distinct_flow_seeds() {
        let s: Vec<u64> = (0..3).map(|i| venue_flow_seed(42, i)).collect();
        assert!(s[0] != s[1] && s[1] != s[2] && s[0] != s[2] && !s.contains(&42));
    }
}
