//! Progress of an execution on stderr: a live display on a terminal, plain
//! lines otherwise (CI logs, pipes).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::duration;
use crate::execute::{Event, StepStatus};

/// Starts rendering events; the task ends when the sender is dropped.
pub(super) fn spawn(mut rx: mpsc::UnboundedReceiver<Event>) -> JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal();
    tokio::spawn(async move {
        let mut bars = terminal.then(Bars::default);
        while let Some(event) = rx.recv().await {
            match &mut bars {
                Some(b) => b.show(&event),
                None => eprintln!("{}", line(&event)),
            }
        }
    })
}

fn at(ms: u64) -> String {
    format!("[{:>8}]", duration::fmt(Duration::from_millis(ms)))
}

fn finished(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Done => "done",
        StepStatus::AlreadyDone => "already done",
        StepStatus::Failed => "FAILED",
        StepStatus::NotRun => "not run",
        StepStatus::Pending | StepStatus::Running => "stopped",
    }
}

/// The plain line for an event.
fn line(event: &Event) -> String {
    match event {
        Event::Started {
            execution_id,
            resumed,
            steps,
        } => {
            let verb = if *resumed { "resuming" } else { "starting" };
            format!("{verb} execution {execution_id} ({} steps)", steps.len())
        }
        Event::Observing { note } => format!("observing: {note}"),
        Event::StepStarted { id, at_ms } => format!("{} {id}: started", at(*at_ms)),
        Event::StepRetry { id, error } => format!("{:>10} {id}: {error}", ""),
        Event::StepFinished {
            id,
            status,
            at_ms,
            outcome,
        } => {
            format!("{} {id}: {}: {outcome}", at(*at_ms), finished(*status))
        }
    }
}

#[derive(Default)]
struct Bars {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Bars {
    fn show(&mut self, event: &Event) {
        match event {
            Event::Started { .. } | Event::Observing { .. } => {
                let _ = self.multi.println(line(event));
            }
            Event::StepStarted { id, at_ms } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<32} {msg}")
                        .expect("static template"),
                );
                bar.set_prefix(id.clone());
                bar.set_message(format!(
                    "started at {}",
                    duration::fmt(Duration::from_millis(*at_ms))
                ));
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bars.insert(id.clone(), bar);
            }
            Event::StepRetry { id, error } => {
                if let Some(bar) = self.bars.get(id) {
                    bar.set_message(format!("retrying: {error}"));
                }
            }
            Event::StepFinished {
                id,
                status,
                at_ms,
                outcome,
            } => {
                let msg = format!(
                    "{} at {}: {outcome}",
                    finished(*status),
                    duration::fmt(Duration::from_millis(*at_ms))
                );
                match self.bars.remove(id) {
                    Some(bar) => bar.finish_with_message(msg),
                    None => {
                        let _ = self.multi.println(format!("  {id:<32} {msg}"));
                    }
                }
            }
        }
    }
}
