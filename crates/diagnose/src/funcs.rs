//! What a Go function name tells about its frame: package, standard
//! library or not, runtime, panic machinery, recover helpers, frameworks.
//!
//! The standard library is known by its real package list (`go list std`,
//! embedded), not by "no dot in the first path element": modules such as
//! `workflow-server/...` have no dot and are not the standard library.

use std::collections::HashSet;
use std::sync::OnceLock;

static STD_PACKAGES: &str = include_str!("std_packages.txt");

fn std_set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        STD_PACKAGES
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// The import path of the package a function belongs to, with a vendor
/// directory removed (`github.com/x/app/vendor/k8s.io/a/b.F` → `k8s.io/a/b`).
///
/// Go prints `pkgpath.Name`, where the last path element's own dots are
/// escaped as `%2e`, so the package ends at the first `.` after the last `/`.
pub fn package_of(function: &str) -> &str {
    let function = strip_vendor(function);
    // Generic instantiations may hold slashes in their type arguments.
    let head_end = function.find('[').unwrap_or(function.len());
    let head = &function[..head_end];
    let last_slash = head.rfind('/').map_or(0, |i| i + 1);
    match head[last_slash..].find('.') {
        Some(dot) => &function[..last_slash + dot],
        None => head,
    }
}

/// Removes everything up to and including the last `/vendor/` (GOPATH-era
/// vendoring puts dependencies under the application's import path).
pub fn strip_vendor(function: &str) -> &str {
    match function.rfind("/vendor/") {
        Some(i) if !function[..i].contains('(') => &function[i + "/vendor/".len()..],
        _ => function,
    }
}

/// Whether the function belongs to the Go standard library.
pub fn is_std(function: &str) -> bool {
    if function == "panic" {
        return true;
    }
    let pkg = package_of(function);
    if pkg.is_empty() {
        return false;
    }
    std_set().contains(pkg)
        || pkg.starts_with("vendor/")
        || pkg.starts_with("golang_org/")
        || pkg.starts_with("internal/")
        || pkg.starts_with("runtime/")
}

/// Whether the function is the runtime's own (`runtime.*`,
/// `internal/runtime/...`, the `panic` pseudo-name).
pub fn is_runtime(function: &str) -> bool {
    let pkg = package_of(function);
    function == "panic"
        || pkg == "runtime"
        || pkg.starts_with("runtime/internal/")
        || pkg.starts_with("internal/runtime/")
}

/// Frames at which a panic or throw starts: the culprit is below the last
/// of them (innermost-first order).
pub fn is_panic_marker(function: &str) -> bool {
    matches!(
        function,
        "panic"
            | "runtime.gopanic"
            | "runtime.throw"
            | "runtime.fatal"
            | "runtime.fatalthrow"
            | "runtime.fatalpanic"
            | "runtime.sigpanic"
            | "runtime.panicmem"
            | "runtime.panicmemAddr"
            | "internal/runtime/maps.fatal"
            | "runtime.mapfatal"
    )
}

/// Functions that recover a panic, log it and panic again (or call it a
/// crash): never the culprit, even when no `panic` frame separates them from
/// the frame that faulted (Go 1.5 printed none).
pub fn is_recover_helper(function: &str) -> bool {
    let f = strip_vendor(function);
    const EXACT: &[&str] = &[
        "testing.tRunner.func1",
        "testing.tRunner.func1.1",
        "testing.tRunner.func1.2",
        "testing.(*T).Run.func1",
        "k8s.io/apimachinery/pkg/util/runtime.HandleCrash",
        "k8s.io/apimachinery/pkg/util/runtime.HandleCrashWithContext",
        "k8s.io/apimachinery/pkg/util/runtime.HandleCrashWithLogger",
        "k8s.io/apimachinery/pkg/util/runtime.handleCrash",
        "k8s.io/apimachinery/pkg/util/runtime.logPanic",
        "net/http.(*conn).serve.func1",
        "net/http.(*http2serverConn).runHandler.func1",
        "golang.org/x/net/http2.(*serverConn).runHandler.func1",
        "google.golang.org/grpc.(*Server).processStreamingRPC.func1",
        "google.golang.org/grpc.(*Server).processUnaryRPC.func1",
        "go.opentelemetry.io/otel/sdk/trace.(*recordingSpan).End",
        "go.opentelemetry.io/otel/sdk/trace.(*span).End",
        "github.com/getsentry/sentry-go.(*Hub).Recover",
        "github.com/getsentry/sentry-go.(*Hub).RecoverWithContext",
    ];
    if EXACT.contains(&f) {
        return true;
    }
    // Families whose closures are numbered differently per version.
    const PREFIXES: &[&str] = &[
        "sigs.k8s.io/controller-runtime/pkg/internal/controller.(*Controller).Reconcile.func",
        "sigs.k8s.io/controller-runtime/pkg/internal/controller.(*Controller[...]).Reconcile.func",
        "github.com/gin-gonic/gin.CustomRecoveryWithWriter.func",
        "github.com/gin-gonic/gin.RecoveryWithWriter.func",
        "github.com/labstack/echo/v4/middleware.RecoverWithConfig.func",
        "github.com/go-chi/chi/middleware.Recoverer.func",
        "github.com/go-chi/chi/v5/middleware.Recoverer.func",
        "github.com/gofiber/fiber/v2/middleware/recover.New.func",
        "github.com/grpc-ecosystem/go-grpc-middleware/recovery.",
        "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery.",
        "github.com/urfave/negroni.(*Recovery).ServeHTTP",
        "github.com/onsi/ginkgo/v2/internal.(*Suite).runNode.func",
        "k8s.io/apimachinery/pkg/util/runtime.HandleCrash",
    ];
    PREFIXES.iter().any(|p| f.starts_with(p))
}

/// A web or RPC framework (or the standard library's HTTP server) a request
/// passes through: the frames that are not the application's own logic.
pub fn framework_of(function: &str) -> Option<&'static str> {
    let pkg = package_of(function);
    const FRAMEWORKS: &[(&str, &str)] = &[
        ("net/http", "net/http"),
        ("github.com/gin-gonic/gin", "gin"),
        ("github.com/labstack/echo", "echo"),
        ("github.com/go-chi/chi", "chi"),
        ("github.com/gorilla/mux", "gorilla/mux"),
        ("github.com/gorilla/handlers", "gorilla/handlers"),
        ("github.com/gofiber/fiber", "fiber"),
        ("github.com/valyala/fasthttp", "fasthttp"),
        ("github.com/julienschmidt/httprouter", "httprouter"),
        ("github.com/urfave/negroni", "negroni"),
        ("google.golang.org/grpc", "gRPC"),
        ("github.com/grpc-ecosystem", "gRPC middleware"),
        ("connectrpc.com/connect", "connect"),
        ("github.com/twitchtv/twirp", "twirp"),
        (
            "go.opentelemetry.io/contrib/instrumentation",
            "OpenTelemetry instrumentation",
        ),
        ("k8s.io/apiserver/pkg/server/filters", "apiserver filters"),
        ("k8s.io/apiserver/pkg/endpoints", "apiserver endpoints"),
        ("github.com/99designs/gqlgen", "gqlgen"),
        ("golang.org/x/net/http2", "http2"),
    ];
    FRAMEWORKS
        .iter()
        .find(|(prefix, _)| pkg == *prefix || pkg.starts_with(&format!("{prefix}/")))
        .map(|(_, name)| *name)
}

/// Frames that call the next handler of a middleware chain: the frame just
/// above one (innermost side) is a handler or middleware layer.
pub fn is_dispatch(function: &str) -> bool {
    let f = strip_vendor(function);
    matches!(
        f,
        "net/http.HandlerFunc.ServeHTTP"
            | "github.com/gin-gonic/gin.(*Context).Next"
            | "github.com/gorilla/mux.(*Router).ServeHTTP"
            | "github.com/go-chi/chi/v5.(*Mux).routeHTTP"
            | "github.com/go-chi/chi/v5.(*Mux).ServeHTTP"
            | "github.com/julienschmidt/httprouter.(*Router).ServeHTTP"
    ) || f.starts_with("google.golang.org/grpc.chainUnaryInterceptors")
        || f.starts_with("google.golang.org/grpc.getChainUnaryHandler")
}

/// The map runtime function a frame is in, if any, with the operation it
/// performs: classic maps (`runtime.mapassign_faststr`) and Swiss tables
/// (`internal/runtime/maps.(*Map).putSlot...`, the `runtime.map*` linkname
/// wrappers keep their names).
pub fn map_operation(function: &str) -> Option<MapOp> {
    use gosleuth_model::{MapOperation as Op, MapRole};
    Some(match gosleuth_model::runtime_map_role(function)? {
        MapRole::Entry(Op::Read) => MapOp::Read,
        MapRole::Entry(Op::Write) => MapOp::Write,
        MapRole::Entry(Op::Delete) => MapOp::Delete,
        MapRole::Entry(Op::Iterate) => MapOp::Iterate,
        MapRole::Entry(Op::Clone) => MapOp::Clone,
        MapRole::Entry(Op::Make | Op::Clear) | MapRole::Grow | MapRole::Internal => MapOp::Other,
    })
}

/// What a map runtime function does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapOp {
    /// `m[k]`, `v, ok := m[k]`.
    Read,
    /// `m[k] = v`.
    Write,
    /// `delete(m, k)`.
    Delete,
    /// `for k, v := range m`.
    Iterate,
    /// `maps.Clone(m)`.
    Clone,
    /// Growth, creation, clearing.
    Other,
}

impl MapOp {
    /// A word for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            MapOp::Read => "read",
            MapOp::Write => "write",
            MapOp::Delete => "delete",
            MapOp::Iterate => "iteration",
            MapOp::Clone => "clone",
            MapOp::Other => "map runtime",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_of_function_names() {
        assert_eq!(package_of("net/http.(*conn).serve.func1"), "net/http");
        assert_eq!(package_of("main.main"), "main");
        assert_eq!(
            package_of("gopkg.in/yaml%2ev2.Unmarshal"),
            "gopkg.in/yaml%2ev2"
        );
        assert_eq!(
            package_of(
                "github.com/rancher/k3s/vendor/k8s.io/apimachinery/pkg/util/runtime.HandleCrash"
            ),
            "k8s.io/apimachinery/pkg/util/runtime"
        );
        assert_eq!(
            package_of("main.Apply[go.shape.struct { F *a/b.T }]"),
            "main"
        );
    }

    #[test]
    fn standard_library_by_its_list() {
        assert!(is_std("net/http.HandlerFunc.ServeHTTP"));
        assert!(is_std("internal/runtime/maps.fatal"));
        assert!(is_std(
            "vendor/golang.org/x/net/http2/hpack.(*Decoder).Write"
        ));
        assert!(!is_std("workflow-server/internal/engine.Run"));
        assert!(!is_std("main.main"));
        assert!(!is_std("github.com/x/y.Z"));
        assert!(is_runtime("runtime.mapassign_faststr"));
        assert!(!is_runtime("runtime/debug.Stack") || is_std("runtime/debug.Stack"));
    }

    #[test]
    fn helpers_and_map_ops() {
        assert!(is_recover_helper(
            "github.com/x/app/vendor/k8s.io/apimachinery/pkg/util/runtime.logPanic"
        ));
        assert!(is_recover_helper("testing.tRunner.func1"));
        assert_eq!(
            map_operation("runtime.mapassign_faststr"),
            Some(MapOp::Write)
        );
        assert_eq!(
            map_operation("runtime.mapaccess2_fast64"),
            Some(MapOp::Read)
        );
        assert_eq!(
            map_operation("internal/runtime/maps.(*Iter).Next"),
            Some(MapOp::Iterate)
        );
        assert_eq!(map_operation("runtime.mapiternext"), Some(MapOp::Iterate));
        assert_eq!(map_operation("main.mapassign"), None);
    }
}
