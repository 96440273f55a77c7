//! `gosleuth profile`: pprof profiles queried with `go tool pprof`'s
//! figures (top, peek, tree, traces, list, diff), flame graphs, export, and
//! the map lens. JSON schemas: docs/json-profile.md.

use std::collections::HashMap;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use gosleuth_pprof::maps::{self, SourceLines};
use gosleuth_pprof::merge::BaseOptions;
use gosleuth_pprof::{FilterOptions, Granularity, Profile, Query, QueryOptions};
use gosleuth_render::profile as render;

use crate::failure::{CmdResult, Failure};
use crate::input::Input;
use crate::output::{Output, warn};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// Options every subcommand takes, named after `go tool pprof`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Profiles (profile.proto, gzipped or not, or a legacy text/binary
    /// profile). Several are merged, as pprof merges them.
    #[arg(value_name = "PROFILE", required = true)]
    pub profiles: Vec<String>,

    /// Base profile: show NEW − BASE, percentages relative to the base
    /// (pprof's `-diff_base`).
    #[arg(long, value_name = "PROFILE")]
    pub base: Option<String>,

    /// Scale the profile to the base's totals before comparing
    /// (pprof's `-normalize`).
    #[arg(long, requires = "base")]
    pub normalize: bool,

    /// Value column: a sample type name (`alloc_space`, `delay`...) or its
    /// index. Default like pprof: the profile's default type, else the last.
    #[arg(
        long = "sample-index",
        visible_alias = "sample_index",
        value_name = "NAME|N"
    )]
    pub sample_index: Option<String>,

    /// Keep only samples with a frame matching this regexp (function name,
    /// file or binary).
    #[arg(long, value_name = "REGEX")]
    pub focus: Option<String>,

    /// Drop samples with a frame matching this regexp.
    #[arg(long, value_name = "REGEX")]
    pub ignore: Option<String>,

    /// Remove frames matching this regexp from stacks.
    #[arg(long, value_name = "REGEX")]
    pub hide: Option<String>,

    /// Keep only frames matching this regexp in stacks.
    #[arg(long, value_name = "REGEX")]
    pub show: Option<String>,

    /// Drop the callers above the outermost frame matching this regexp.
    #[arg(long = "show-from", value_name = "REGEX")]
    pub show_from: Option<String>,

    /// Keep samples whose labels match: `key=regexp[,regexp]`,
    /// `regexp` (matched against `key:value`), or a numeric range
    /// `[key=]32kb:1mb`.
    #[arg(long, value_name = "FILTER")]
    pub tagfocus: Option<String>,

    /// Drop samples whose labels match (same syntax as --tagfocus).
    #[arg(long, value_name = "FILTER")]
    pub tagignore: Option<String>,

    /// Aggregate frames by functions, filefunctions, files, lines or
    /// addresses.
    #[arg(long, value_name = "G", default_value = "functions")]
    pub granularity: String,

    /// Show at most this many nodes (default: all for top, 80 for tree).
    #[arg(long, visible_alias = "nodecount", short = 'n', value_name = "N")]
    pub node_count: Option<usize>,

    /// Drop nodes whose cum is below this fraction of the total (pprof's
    /// default 0.005).
    #[arg(long, visible_alias = "nodefraction", value_name = "F")]
    pub node_fraction: Option<f64>,

    /// Drop edges below this fraction of the total (default 0.001).
    #[arg(long, visible_alias = "edgefraction", value_name = "F")]
    pub edge_fraction: Option<f64>,

    /// Sort by cumulative value instead of flat.
    #[arg(long)]
    pub cum: bool,

    /// Print values in this unit (ns, us, ms, s, hrs, B, kB, MB, GB...);
    /// default picks one per report like pprof.
    #[arg(long, value_name = "UNIT")]
    pub unit: Option<String>,

    /// Directory of Go sources, for `list` and for recognising map
    /// operations in heap profiles (files named in the profile are also
    /// tried as they are).
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,

    /// The Go executable the profile was taken from: symbolizes locations
    /// that carry only addresses (profiles from perf, eBPF agents, old Go),
    /// matched by build ID or file name.
    #[arg(long, value_name = "EXE")]
    pub binary: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Functions by flat and cum value: `go tool pprof -top`'s figures.
    Top {
        #[command(flatten)]
        common: Common,
    },
    /// Callers and callees of functions matching REGEX (`pprof -peek`).
    Peek {
        /// Regexp of function names.
        #[arg(value_name = "REGEX")]
        regex: String,
        #[command(flatten)]
        common: Common,
    },
    /// Every node with its callers and callees (`pprof -tree`).
    Tree {
        #[command(flatten)]
        common: Common,
    },
    /// Every sample with its stack and labels (`pprof -traces`).
    Traces {
        #[command(flatten)]
        common: Common,
    },
    /// Per-line values of functions matching REGEX, on the source when it
    /// can be found (`pprof -list`).
    List {
        /// Regexp of function names.
        #[arg(value_name = "REGEX")]
        regex: String,
        #[command(flatten)]
        common: Common,
    },
    /// Flame graph SVG (inferno); differential with --base.
    Flame {
        #[command(flatten)]
        common: Common,
        /// Print folded stacks (`a;b;c value`) instead of SVG.
        #[arg(long)]
        folded: bool,
        /// Write to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Title of the graph.
        #[arg(long)]
        title: Option<String>,
    },
    /// Per-function change between --base and the profile: regressions
    /// and improvements ranked, plus `-diff_base -top`.
    Diff {
        #[command(flatten)]
        common: Common,
        /// Rows per list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Write the profile after filters (and merging or --base) as gzipped
    /// profile.proto, readable by `go tool pprof`.
    Export {
        #[command(flatten)]
        common: Common,
        /// Output file (`-` for standard output).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// The map lens: time or allocation in Go map code, by operation and
    /// by the user function responsible; with --base, which callers grew.
    Maps {
        #[command(flatten)]
        common: Common,
        /// Callers to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

pub fn run(args: Args, out: &mut Output) -> CmdResult {
    match args.command {
        Sub::Top { common } => {
            let mut q = query(&common, true)?;
            let r = q.top();
            render::write_top(&r, out.render_format(), out.writer())?;
        }
        Sub::Peek { regex, common } => {
            let rx = compile(&regex)?;
            let mut q = query(&common, true)?;
            let r = q.peek(&rx);
            if r.entries.is_empty() {
                return Err(Failure::bad_input(anyhow!(
                    "no matches found for regexp: {regex}"
                )));
            }
            render::write_tree(&r, true, out.render_format(), out.writer())?;
        }
        Sub::Tree { common } => {
            let mut q = query(&common, true)?;
            let r = q.tree();
            render::write_tree(&r, false, out.render_format(), out.writer())?;
        }
        Sub::Traces { common } => {
            let mut q = query(&common, true)?;
            let r = q.traces();
            render::write_traces(&r, out.render_format(), out.writer())?;
        }
        Sub::List { regex, common } => {
            let rx = compile(&regex)?;
            let mut q = query(&common, true)?;
            let r = q.list(&rx);
            if r.functions.is_empty() && r.no_source.is_empty() {
                return Err(Failure::bad_input(anyhow!(
                    "no matches found for regexp: {regex}"
                )));
            }
            let src = Sources::new(common.source.clone());
            render::write_list(&r, &src, out.render_format(), out.writer())?;
        }
        Sub::Flame {
            common,
            folded,
            output,
            title,
        } => flame(common, folded, output, title, out)?,
        Sub::Diff { common, limit } => {
            let Some(base) = &common.base else {
                return Err(Failure::bad_input(anyhow!("diff needs --base OLD")));
            };
            let new = load_all(&common.profiles, common.binary.as_deref())?;
            let base = load(base, common.binary.as_deref())?;
            let r = gosleuth_pprof::diff::diff(new, base, &options(&common)?, common.normalize)
                .map_err(|e| Failure::bad_input(anyhow!(e)))?;
            render::write_diff(&r, limit, out.render_format(), out.writer())?;
        }
        Sub::Export { common, output } => export(common, output, out)?,
        Sub::Maps { common, limit } => maps_lens(common, limit, out)?,
    }
    Ok(())
}

fn compile(regex: &str) -> Result<regex::Regex, Failure> {
    regex::Regex::new(regex)
        .with_context(|| format!("parsing argument regexp {regex}"))
        .map_err(Failure::bad_input)
}

/// Reads and decodes one profile, symbolizing it with `binary` when given.
fn load(path: &str, binary: Option<&Path>) -> Result<Profile, Failure> {
    let input = Input::open(path)?;
    let name = input.name().to_string();
    let bytes = input.into_bytes()?;
    let mut profile = Profile::decode(&bytes)
        .with_context(|| name.clone())
        .map_err(Failure::bad_input)?;
    if let Some(exe) = binary {
        let exe_name = exe.display().to_string();
        let (exe_bytes, _) = crate::input::open_bytes(Input::open(&exe_name)?)?;
        let bin = gosleuth_gobin::Binary::parse(&exe_bytes)
            .with_context(|| format!("{exe_name} is not a readable executable"))
            .map_err(Failure::bad_input)?;
        let sym = crate::symbols::BinarySymbolizer::new(&bin, &exe_name, &profile);
        let stats = gosleuth_pprof::symbolize::symbolize(&mut profile, &sym);
        if stats.unknown > 0 || stats.symbolized == 0 {
            crate::output::warn(format!(
                "{name}: {} locations symbolized with {exe_name}, {} unknown",
                stats.symbolized, stats.unknown
            ));
        }
    }
    Ok(profile)
}

/// Reads the profiles, in parallel when there are several.
fn load_all(paths: &[String], binary: Option<&Path>) -> Result<Profile, Failure> {
    let profiles: Vec<Result<Profile, Failure>> = if paths.len() > 1 {
        use rayon::prelude::*;
        paths.par_iter().map(|p| load(p, binary)).collect()
    } else {
        paths.iter().map(|p| load(p, binary)).collect()
    };
    let profiles: Vec<Profile> = profiles.into_iter().collect::<Result<_, _>>()?;
    gosleuth_pprof::combine(profiles, None, BaseOptions::default())
        .map_err(|e| Failure::bad_input(anyhow!(e)))
}

/// Loads inputs as pprof does: merge, subtract the base, drop_frames.
fn load_combined(c: &Common, with_base: bool) -> Result<Profile, Failure> {
    let paths = &c.profiles;
    let mut profiles: Vec<Profile> = Vec::with_capacity(paths.len());
    if paths.len() > 1 {
        use rayon::prelude::*;
        let loaded: Vec<Result<Profile, Failure>> = paths
            .par_iter()
            .map(|p| load(p, c.binary.as_deref()))
            .collect();
        for p in loaded {
            profiles.push(p?);
        }
    } else {
        profiles.push(load(&paths[0], c.binary.as_deref())?);
    }
    let base = match (&c.base, with_base) {
        (Some(b), true) => Some(load(b, c.binary.as_deref())?),
        _ => None,
    };
    gosleuth_pprof::combine(
        profiles,
        base,
        BaseOptions {
            diff_base: true,
            normalize: c.normalize,
        },
    )
    .map_err(|e| Failure::bad_input(anyhow!(e)))
}

fn options(c: &Common) -> Result<QueryOptions, Failure> {
    let granularity = Granularity::parse(&c.granularity).ok_or_else(|| {
        Failure::bad_input(anyhow!(
            "unknown granularity {:?}: use functions, filefunctions, files, lines or addresses",
            c.granularity
        ))
    })?;
    let mut o = QueryOptions::new();
    o.sample_index = c.sample_index.clone().unwrap_or_default();
    let mut f = FilterOptions::default();
    f.focus = c.focus.clone();
    f.ignore = c.ignore.clone();
    f.hide = c.hide.clone();
    f.show = c.show.clone();
    f.show_from = c.show_from.clone();
    f.tagfocus = c.tagfocus.clone();
    f.tagignore = c.tagignore.clone();
    o.filters = f;
    o.granularity = granularity;
    o.node_count = c.node_count;
    o.node_fraction = c.node_fraction;
    o.edge_fraction = c.edge_fraction;
    o.cum = c.cum;
    o.unit = c.unit.clone();
    Ok(o)
}

fn query(c: &Common, with_base: bool) -> Result<Query, Failure> {
    let p = load_combined(c, with_base)?;
    let q = Query::new(p, options(c)?).map_err(|e| Failure::bad_input(anyhow!(e)))?;
    warn_unmatched(&q);
    Ok(q)
}

/// pprof's "X expression matched no samples" warnings.
fn warn_unmatched(q: &Query) {
    let f = &q.options.filters;
    let m = q.matched;
    for (set, hit, name) in [
        (f.focus.is_some(), m.focus, "Focus"),
        (f.ignore.is_some(), m.ignore, "Ignore"),
        (f.hide.is_some(), m.hide, "Hide"),
        (f.show.is_some(), m.show, "Show"),
        (f.show_from.is_some(), m.show_from, "ShowFrom"),
        (f.tagfocus.is_some(), m.tagfocus, "TagFocus"),
        (f.tagignore.is_some(), m.tagignore, "TagIgnore"),
    ] {
        if set && !hit {
            warn(format!("{name} expression matched no samples"));
        }
    }
}

fn flame(
    common: Common,
    folded: bool,
    output: Option<PathBuf>,
    title: Option<String>,
    out: &mut Output,
) -> CmdResult {
    let mut q = query(&common, false)?;
    let stacks = q.folded();
    let sample_type = q.sample_type().to_string();
    let unit = q.sample_unit();
    let base_stacks = match &common.base {
        Some(b) => {
            let base = load(b, common.binary.as_deref())?;
            let mut base = gosleuth_pprof::combine(vec![base], None, BaseOptions::default())
                .map_err(|e| Failure::bad_input(anyhow!(e)))?;
            if common.normalize {
                gosleuth_pprof::merge::normalize(&mut base, &q.profile)
                    .map_err(|e| Failure::bad_input(anyhow!(e)))?;
            }
            let mut bq =
                Query::new(base, options(&common)?).map_err(|e| Failure::bad_input(anyhow!(e)))?;
            Some(bq.folded())
        }
        None => None,
    };
    let fopt = render::FlameOptions {
        title: title.unwrap_or_else(|| match &base_stacks {
            Some(_) => format!("{sample_type}: differential (red grew, blue shrank)"),
            None => format!("{sample_type} flame graph"),
        }),
        count_name: unit.clone(),
    };
    let mut buf: Vec<u8> = Vec::new();
    let format = out.render_format();
    if format == gosleuth_render::Format::Json {
        render::write_flame_json(
            &sample_type,
            &unit,
            &stacks,
            base_stacks.as_deref(),
            &mut buf,
        )?;
    } else if folded {
        render::write_folded(&stacks, &mut buf)?;
    } else if let Some(base) = &base_stacks {
        render::write_diff_flame_svg(base, &stacks, false, &fopt, &mut buf)?;
    } else {
        render::write_flame_svg(&stacks, &fopt, &mut buf)?;
    }
    match output {
        Some(path) => fs::write(&path, &buf)
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Failure::internal)?,
        None => out.writer().write_all(&buf)?,
    }
    Ok(())
}

fn export(common: Common, output: PathBuf, out: &mut Output) -> CmdResult {
    let q = query(&common, true)?;
    let p = q.profile;
    let bytes = p.encode();
    if output.as_os_str() == "-" {
        if std::io::stdout().is_terminal() {
            return Err(Failure::bad_input(anyhow!(
                "refusing to write a binary profile to a terminal: give -o FILE"
            )));
        }
        out.writer().write_all(&bytes)?;
        return Ok(());
    }
    fs::write(&output, &bytes)
        .with_context(|| format!("cannot write {}", output.display()))
        .map_err(Failure::internal)?;
    render::write_export(
        &output.display().to_string(),
        bytes.len(),
        p.samples.len(),
        p.locations.len(),
        out.render_format(),
        out.writer(),
    )?;
    Ok(())
}

fn maps_lens(common: Common, limit: usize, out: &mut Output) -> CmdResult {
    let src = Sources::new(common.source.clone());
    let one = |p: Profile| -> Result<maps::MapLens, Failure> {
        let q = Query::new(p, options(&common)?).map_err(|e| Failure::bad_input(anyhow!(e)))?;
        warn_unmatched(&q);
        Ok(maps::lens(&q.profile, q.index, &src))
    };
    let new = one(load_all(&common.profiles, common.binary.as_deref())?)?;
    let base = match &common.base {
        Some(b) => {
            let bp = gosleuth_pprof::combine(
                vec![load(b, common.binary.as_deref())?],
                None,
                BaseOptions::default(),
            )
            .map_err(|e| Failure::bad_input(anyhow!(e)))?;
            Some(one(bp)?)
        }
        None => None,
    };
    let growth = base.as_ref().map(|b| maps::compare(b, &new));
    let pair = base.as_ref().zip(growth.as_deref());
    render::write_maps(&new, pair, limit, out.render_format(), out.writer())?;
    Ok(())
}

/// Source files for `list` and the heap map lens: the path the profile
/// names, else its longest suffix found under `--source`. Files are read
/// once and cached.
pub struct Sources {
    dir: Option<PathBuf>,
    cache: Mutex<HashMap<String, Option<Arc<Vec<String>>>>>,
}

impl Sources {
    pub fn new(dir: Option<PathBuf>) -> Sources {
        Sources {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn resolve(&self, file: &str) -> Option<PathBuf> {
        if let Some(dir) = &self.dir {
            // Try the path relative to DIR with fewer and fewer leading
            // components: /build/src/app/x.go → DIR/build/src/app/x.go,
            // DIR/src/app/x.go, DIR/app/x.go, DIR/x.go.
            let parts: Vec<&str> = file.split('/').filter(|s| !s.is_empty()).collect();
            for i in 0..parts.len() {
                let cand = dir.join(parts[i..].join("/"));
                if cand.is_file() {
                    return Some(cand);
                }
            }
        }
        let p = Path::new(file);
        p.is_file().then(|| p.to_path_buf())
    }

    fn lines(&self, file: &str) -> Option<Arc<Vec<String>>> {
        let mut cache = self.cache.lock().ok()?;
        if let Some(v) = cache.get(file) {
            return v.clone();
        }
        let v = self.resolve(file).and_then(|p| fs::read(p).ok()).map(|b| {
            Arc::new(
                String::from_utf8_lossy(&b)
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
        });
        cache.insert(file.to_string(), v.clone());
        v
    }
}

impl SourceLines for Sources {
    fn line(&self, file: &str, line: i64) -> Option<String> {
        if line < 1 {
            return None;
        }
        self.lines(file)?.get(line as usize - 1).cloned()
    }

    fn file(&self, file: &str) -> Option<String> {
        self.lines(file).map(|l| l.join("\n"))
    }
}
