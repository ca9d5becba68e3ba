//! Log output in Consul's text format (`2026-11-21T10:00:00.000Z [INFO]  agent: message: k=v`)
//! or as JSON lines (`-log-json`), with a level that SIGHUP can change; with `enable_syslog`
//! the same lines also go to the local syslog socket (`syslog.rs`), as Consul's do.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::Visit;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{filter::LevelFilter, reload};

use crate::config::LogLevel;

/// Maps Consul's level names onto tracing's.
pub fn level_filter(l: LogLevel) -> LevelFilter {
    match l {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    }
}

/// The local syslog socket.
const SYSLOG_SOCKET: &str = "/dev/log";

/// Installs the global subscriber; returns a setter for the level (used on reload).
/// `syslog` is the facility to also log to, when `enable_syslog` is on.
pub fn init(
    level: LogLevel,
    json: bool,
    syslog: Option<&str>,
) -> impl Fn(LogLevel) + Send + Sync + 'static {
    let (filter, handle) = reload::Layer::new(level_filter(level));
    // Our own crates log at the chosen level; chatty dependencies only warn.
    let deps = || {
        tracing_subscriber::filter::filter_fn(|meta| {
            meta.target().starts_with("berth") || *meta.level() <= Level::WARN
        })
    };
    let mut syslog_error = None;
    let syslog_layer = syslog.and_then(|name| {
        let facility = super::syslog::facility_code(name);
        match super::syslog::Syslog::connect(std::path::Path::new(SYSLOG_SOCKET), facility) {
            Ok(writer) => Some(
                tracing_subscriber::fmt::layer()
                    .event_format(ConsulFormat { stamped: false })
                    .with_writer(writer)
                    .with_filter_fn(deps()),
            ),
            Err(e) => {
                syslog_error = Some(e);
                None
            }
        }
    });
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(syslog_layer);
    if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter_fn(deps());
        registry.with(layer).init();
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .event_format(ConsulFormat { stamped: true })
            .with_writer(std::io::stderr)
            .with_filter_fn(deps());
        registry.with(layer).init();
    }
    if let Some(e) = syslog_error {
        tracing::warn!(
            "agent: enable_syslog is set but the syslog socket {SYSLOG_SOCKET} cannot be used ({e}); logging to stderr only"
        );
    }
    move |l: LogLevel| {
        let _ = handle.modify(|f| *f = level_filter(l));
    }
}

trait WithFilterFn<S>: tracing_subscriber::Layer<S> + Sized
where
    S: Subscriber,
{
    fn with_filter_fn<F>(
        self,
        f: tracing_subscriber::filter::FilterFn<F>,
    ) -> tracing_subscriber::filter::Filtered<Self, tracing_subscriber::filter::FilterFn<F>, S>
    where
        F: Fn(&tracing::Metadata<'_>) -> bool,
    {
        tracing_subscriber::Layer::with_filter(self, f)
    }
}

impl<S: Subscriber, L: tracing_subscriber::Layer<S>> WithFilterFn<S> for L {}

/// Consul's text line format; syslog lines leave out the time and level, which syslog
/// records itself.
struct ConsulFormat {
    stamped: bool,
}

impl<S, N> FormatEvent<S, N> for ConsulFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        let level = match *event.metadata().level() {
            Level::TRACE => "[TRACE]",
            Level::DEBUG => "[DEBUG]",
            Level::INFO => "[INFO] ",
            Level::WARN => "[WARN] ",
            Level::ERROR => "[ERROR]",
        };
        let mut v = Fields::default();
        event.record(&mut v);
        if self.stamped {
            write!(w, "{now} {level} ")?;
        }
        write!(w, "{}", v.message)?;
        if !v.rest.is_empty() {
            write!(w, ":{}", v.rest)?;
        }
        writeln!(w)
    }
}

/// The message and the `key=value` pairs of one event.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest.push_str(&format!(" {}={}", field.name(), value));
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest
                .push_str(&format!(" {}={:?}", field.name(), value));
        }
    }
}
