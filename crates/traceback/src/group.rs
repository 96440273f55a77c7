//! Grouping goroutines by identical stack, as panicparse buckets them.

use rustc_hash::FxHashMap;

use crate::model::*;

/// How to group.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct GroupOptions {
    /// Group only goroutines whose argument values are identical too
    /// (panicparse's `-exact`); by default arguments are ignored.
    pub exact: bool,
    /// Put the group holding this goroutine first (the crashing one).
    pub first: Option<u64>,
}

impl GroupOptions {
    /// Options with `exact` and `first` set.
    pub fn new(exact: bool, first: Option<u64>) -> Self {
        GroupOptions { exact, first }
    }
}

/// Goroutines sharing one stack (function, file and line of every frame),
/// state, creator and thread locking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The stack of the first member (offsets may differ among members).
    pub stack: StackId,
    /// The state or wait reason.
    pub state: Sym,
    /// Who created them (function, file and line; the parent id is that of
    /// the first member).
    pub created_by: Option<CreatedBy>,
    /// Whether they are locked to their thread.
    pub locked_to_thread: bool,
    /// How many goroutines (sum of `debug=1` counts).
    pub count: u64,
    /// Indexes of the members in [`Trace::goroutines`], in input order.
    pub members: Vec<usize>,
    /// Shortest and longest wait in minutes among members that printed one.
    pub wait_minutes: Option<(u32, u32)>,
}

type FrameKey = (Sym, Option<Sym>, u32);

/// Groups the goroutines of `trace`. Order: the group holding
/// `opts.first` first, then by size, then by longest wait, then by first
/// appearance.
pub fn group(dump: &Dump, trace: &Trace, opts: &GroupOptions) -> Vec<Group> {
    // Stacks are interned with their offsets; two stacks equal on function,
    // file and line belong together.
    let mut canonical: FxHashMap<StackId, u32> = FxHashMap::default();
    let mut shapes: FxHashMap<(Vec<FrameKey>, Option<Elision>), u32> = FxHashMap::default();
    let mut shape_of = |id: StackId| -> u32 {
        *canonical.entry(id).or_insert_with(|| {
            let st = dump.stack(id);
            let key: Vec<FrameKey> = st
                .frames
                .iter()
                .map(|f| (f.function, f.file, f.line))
                .collect();
            let next = shapes.len() as u32;
            *shapes.entry((key, st.elided)).or_insert(next)
        })
    };
    #[derive(Hash, PartialEq, Eq)]
    struct Key {
        shape: u32,
        state: Sym,
        created: Option<FrameKey>,
        locked: bool,
        args: Option<Vec<String>>,
    }
    let mut index: FxHashMap<Key, usize> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    for (i, g) in trace.goroutines.iter().enumerate() {
        let shape = shape_of(g.stack);
        let args = opts.exact.then(|| {
            (0..dump.stack(g.stack).frames.len())
                .map(|f| dump.frame_args(g.args_start, f).unwrap_or("").to_string())
                .collect()
        });
        let key = Key {
            shape,
            state: g.state,
            created: g.created_by.map(|c| (c.function, c.file, c.line)),
            locked: g.flags.locked_to_thread,
            args,
        };
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                stack: g.stack,
                state: g.state,
                created_by: g.created_by,
                locked_to_thread: g.flags.locked_to_thread,
                count: 0,
                members: Vec::new(),
                wait_minutes: None,
            });
            groups.len() - 1
        });
        let group = &mut groups[slot];
        group.count += g.count;
        group.members.push(i);
        if let Some(w) = g.wait_minutes {
            group.wait_minutes = Some(match group.wait_minutes {
                None => (w, w),
                Some((lo, hi)) => (lo.min(w), hi.max(w)),
            });
        }
    }
    // Which group holds `first` is decided once, not in every comparison:
    // a group of a big dump has thousands of members.
    let holds_first = |g: &Group| {
        opts.first
            .is_some_and(|id| g.members.iter().any(|&m| trace.goroutines[m].id == id))
    };
    let mut order: Vec<(bool, Group)> = groups.into_iter().map(|g| (holds_first(&g), g)).collect();
    // Stable sort keeps first appearance as the last tie-breaker.
    order.sort_by(|(a_first, a), (b_first, b)| {
        b_first.cmp(a_first).then(b.count.cmp(&a.count)).then(
            b.wait_minutes
                .map(|w| w.1)
                .cmp(&a.wait_minutes.map(|w| w.1)),
        )
    });
    order.into_iter().map(|(_, g)| g).collect()
}
