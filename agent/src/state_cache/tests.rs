use lvs_testkit::fixtures::desired_state;

use super::*;

/// One service with one real server at `weight`, at `generation`.
fn state(generation: u64, weight: u32) -> DesiredState {
    desired_state(&format!(
        r#"{{"generation": {generation}, "timeouts": {{"tcp": 900}},
            "services": [{{"protocol": "tcp", "address": "10.0.0.1", "port": 80,
              "scheduler": "wrr", "description": "web",
              "real_servers": [{{"address": "10.1.0.1", "forwarding": "masq",
                                "weight": {weight}, "state": "drained"}},
                               {{"address": "10.1.0.2", "forwarding": "masq",
                                "weight": 1}}]}}]}}"#
    ))
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Records generations `from + 1 ..= to` one diff per pass, each applied.
fn record_steps(cache: &mut StateCache, from: u64, to: u64) -> Vec<Written> {
    (from..to)
        .map(|g| {
            let diff = Diff::between(&state(g, g as u32), &state(g + 1, g as u32 + 1));
            cache
                .record(
                    Some(g + 1),
                    &state(g + 1, g as u32 + 1),
                    &Unsaved::Diffs(vec![diff]),
                )
                .unwrap()
        })
        .collect()
}

#[test]
fn snapshots_round_trip_and_replace() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = StateCache::new(dir.path().join("nested"));
    assert_eq!(cache.load().unwrap(), None);
    cache.store(None, &state(7, 3)).unwrap();
    let mut again = StateCache::new(dir.path().join("nested"));
    let expected = Cached {
        applied_generation: None,
        desired: state(7, 3),
    };
    assert_eq!(again.load().unwrap(), Some(expected));
    again.store(Some(7), &state(7, 3)).unwrap();
    let loaded = StateCache::new(dir.path().join("nested")).load().unwrap();
    assert_eq!(loaded.unwrap().applied_generation, Some(7));
    assert_eq!(
        names(&dir.path().join("nested")),
        [SNAPSHOT],
        "no temporary file"
    );
}

#[test]
fn passes_are_journal_lines_replayed_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = StateCache::new(dir.path());
    // Nothing recorded yet: the first record is a snapshot, whatever it says.
    let first = cache
        .record(None, &state(1, 1), &Unsaved::Diffs(Vec::new()))
        .unwrap();
    assert_eq!(first, Written::Snapshot);
    let written = record_steps(&mut cache, 1, 4);
    assert_eq!(written, [Written::Journal; 3]);
    // A pass that only applied: a line without diffs.
    cache
        .record(None, &state(4, 4), &Unsaved::Diffs(Vec::new()))
        .unwrap();
    assert_eq!(names(dir.path()), [JOURNAL, SNAPSHOT]);

    let loaded = StateCache::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(loaded.desired, state(4, 4));
    assert_eq!(loaded.applied_generation, None);

    // A loaded cache goes on appending to the same journal.
    let mut reopened = StateCache::new(dir.path());
    reopened.load().unwrap();
    assert_eq!(record_steps(&mut reopened, 4, 5), [Written::Journal]);
    let loaded = StateCache::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(loaded.desired, state(5, 5));
    assert_eq!(loaded.applied_generation, Some(5));
}

#[test]
fn a_replaced_state_is_a_new_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = StateCache::new(dir.path());
    cache.store(Some(1), &state(1, 1)).unwrap();
    record_steps(&mut cache, 1, 3);
    assert_eq!(
        cache
            .record(Some(9), &state(9, 40), &Unsaved::Replaced)
            .unwrap(),
        Written::Snapshot
    );
    assert_eq!(
        names(dir.path()),
        [SNAPSHOT],
        "the journal went with the fold"
    );
    let loaded = StateCache::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(
        (loaded.desired, loaded.applied_generation),
        (state(9, 40), Some(9))
    );
}

#[test]
fn the_journal_is_folded_once_it_outgrows_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = StateCache::new(dir.path());
    cache.store(Some(1), &state(1, 1)).unwrap();
    let written = record_steps(&mut cache, 1, 400);
    let folds = written.iter().filter(|w| **w == Written::Snapshot).count();
    assert!(
        folds >= 1,
        "a 64 KiB journal holds fewer than 400 weight changes"
    );
    let first_fold = written
        .iter()
        .position(|w| *w == Written::Snapshot)
        .unwrap();
    assert!(first_fold > 50, "not folded before its limit: {first_fold}");
    let journal = fs::metadata(cache.journal_path()).map_or(0, |m| m.len());
    assert!(journal <= MIN_JOURNAL_LIMIT + 4096, "{journal} bytes");
    let loaded = StateCache::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(loaded.desired, state(400, 400));
}

#[test]
fn a_torn_last_line_is_ignored_and_the_next_record_is_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = StateCache::new(dir.path());
    cache.store(Some(1), &state(1, 1)).unwrap();
    record_steps(&mut cache, 1, 3);
    let mut journal = OpenOptions::new()
        .append(true)
        .open(cache.journal_path())
        .unwrap();
    journal
        .write_all(br#"{"applied_generation": 4, "diffs": [{"from_gen"#)
        .unwrap();

    let mut reopened = StateCache::new(dir.path());
    let loaded = reopened.load().unwrap().unwrap();
    assert_eq!(
        loaded.desired,
        state(3, 3),
        "the lines before the torn one count"
    );
    assert_eq!(record_steps(&mut reopened, 3, 4), [Written::Snapshot]);
    assert_eq!(names(dir.path()), [SNAPSHOT]);
    let loaded = StateCache::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(loaded.desired, state(4, 4));
}

#[test]
fn a_journal_left_by_an_unfinished_fold_is_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = StateCache::new(dir.path());
    cache.store(Some(1), &state(1, 1)).unwrap();
    record_steps(&mut cache, 1, 3);
    let stale = fs::read(cache.journal_path()).unwrap();
    // The fold wrote its snapshot, then stopped before removing the journal.
    cache.store(Some(3), &state(3, 3)).unwrap();
    fs::write(cache.journal_path(), stale).unwrap();

    let mut reopened = StateCache::new(dir.path());
    let loaded = reopened.load().unwrap().unwrap();
    assert_eq!(
        (loaded.desired, loaded.applied_generation),
        (state(3, 3), Some(3))
    );
    assert_eq!(record_steps(&mut reopened, 3, 4), [Written::Snapshot]);
}

#[test]
fn a_journal_that_does_not_fit_its_snapshot_is_used_as_far_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = StateCache::new(dir.path());
    cache.store(Some(1), &state(1, 1)).unwrap();
    record_steps(&mut cache, 1, 2);
    // A diff from a generation the state is not at.
    let gap = Diff::between(&state(5, 5), &state(6, 6));
    cache
        .record(Some(6), &state(6, 6), &Unsaved::Diffs(vec![gap]))
        .unwrap();
    let loaded = StateCache::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(loaded.desired, state(2, 2));
}

#[test]
fn a_cache_written_before_the_journal_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let old = serde_json::json!({"applied_generation": 7, "desired": state(7, 7)});
    fs::write(dir.path().join(SNAPSHOT), old.to_string()).unwrap();
    let mut cache = StateCache::new(dir.path());
    let loaded = cache.load().unwrap().unwrap();
    assert_eq!(
        (loaded.desired, loaded.applied_generation),
        (state(7, 7), Some(7))
    );
    assert_eq!(record_steps(&mut cache, 7, 8), [Written::Journal]);
    let loaded = StateCache::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(loaded.desired, state(8, 8));
}

#[test]
fn a_corrupt_snapshot_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(SNAPSHOT), b"{not json").unwrap();
    assert!(StateCache::new(dir.path()).load().is_err());
}
