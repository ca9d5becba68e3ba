//! Log output in Consul's text format (`2026-11-21T10:00:00.000Z [INFO]  agent: message: k=v`)
//! or as JSON lines (`-log-json`), with a level that SIGHUP can change.

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

/// Installs the global subscriber; returns a setter for the level (used on reload).
pub fn init(level: LogLevel, json: bool) -> impl Fn(LogLevel) + Send + Sync + 'static {
    let (filter, handle) = reload::Layer::new(level_filter(level));
    // Our own crates log at the chosen level; chatty dependencies only warn.
    let deps = tracing_subscriber::filter::filter_fn(|meta| {
        meta.target().starts_with("berth") || *meta.level() <= Level::WARN
    });
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter_fn(deps);
        registry.with(layer).init();
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .event_format(ConsulFormat)
            .with_writer(std::io::stderr)
            .with_filter_fn(deps);
        registry.with(layer).init();
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

/// Consul's text line format.
struct ConsulFormat;

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
        write!(w, "{now} {level} {}", v.message)?;
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
