//! The server's background task: finds runs whose lease is free or expired
//! and executes them.

use super::*;

/// The server's background task: takes up runs and executes them.
pub struct Executor;

impl Executor {
    /// Runs until `stop` turns true; `wake` makes it look for new runs at once.
    pub fn spawn(engine: Engine, wake: Arc<Notify>, stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(scan_loop(engine, wake, stop))
    }
}

async fn scan_loop(engine: Engine, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let mut active: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        if *stop.borrow() {
            break;
        }
        active.retain(|_, task| !task.is_finished());
        let runs = engine
            .store()
            .reader
            .replay_runs_to_execute(engine.owner(), now_unix_nano())
            .await
            .and_then(Run::all_from_stored);
        match runs {
            Ok(runs) => {
                for run in runs {
                    if active.contains_key(&run.id) {
                        continue;
                    }
                    let run_id = run.id.clone();
                    match engine.claim(&run).await {
                        Ok(true) => {
                            let engine = engine.clone();
                            let stop = stop.clone();
                            let task = tokio::spawn(async move {
                                let id = run.id.clone();
                                if let Err(error) = engine.execute_claimed(run, stop).await {
                                    tracing::error!(run_id = %id, %error, "replay run failed");
                                }
                            });
                            active.insert(run_id, task);
                        }
                        Ok(false) => {}
                        Err(error) => tracing::warn!(%run_id, %error, "cannot take up replay run"),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot look for replay runs"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(SCAN_EVERY) => {}
            _ = wait_true(&mut stop) => break,
        }
    }
    for (_, task) in active {
        let _ = task.await;
    }
}
