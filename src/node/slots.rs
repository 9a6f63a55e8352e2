//! The scheduler's count of each executor's free task slots (Ballista's "vcores"), kept so that
//! slots never leak. Ballista 55 takes an executor's slots when it binds a task and gives them
//! back when the task's final status arrives — but only while the task is still a running task
//! of a running job. When an executor is lost, Ballista rolls back the running stages that had
//! tasks on it and cancels their tasks on the other executors, and the slots those tasks held
//! are never given back (nor are they for a stage a failed fetch rolled back). An executor that
//! survived a loss could so keep no free slot at all, and the next job wait for ever: a census
//! run's rerun after an executor was killed once did.
//!
//! [`Slots`] is the cluster state the scheduler is built on: Ballista's own in-memory state,
//! with a [`Ledger`] of the slots each executor's bound tasks hold. Each time the scheduler binds
//! tasks, the slots held beyond what the running jobs' running tasks hold are given back first;
//! and no executor is ever given back more slots than it lent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ballista_core::JobId;
use ballista_core::error::Result;
use ballista_core::serde::protobuf::ExecutorHeartbeat;
use ballista_core::serde::scheduler::{ExecutorData, ExecutorMetadata};
use ballista_scheduler::cluster::{BoundTask, ClusterState, ClusterStateEventStream, ExecutorSlot};
use ballista_scheduler::config::TaskDistributionPolicy;
use ballista_scheduler::state::task_manager::JobInfoCache;
use tokio::sync::Mutex;

/// The slots each executor's bound tasks hold, as the scheduler lent them.
#[derive(Debug, Default)]
pub struct Ledger {
    held: HashMap<String, u32>,
}

impl Ledger {
    /// An executor registered: it holds nothing yet.
    pub fn registered(&mut self, executor: &str) {
        self.held.insert(executor.to_string(), 0);
    }

    /// An executor left: its slots go with it.
    pub fn removed(&mut self, executor: &str) {
        self.held.remove(executor);
    }

    /// A task bound to `executor` took `slots`.
    pub fn bound(&mut self, executor: &str, slots: u32) {
        if let Some(held) = self.held.get_mut(executor) {
            *held = held.saturating_add(slots);
        }
    }

    /// `slots` come back from `executor`'s tasks: what may be given back to it, never more
    /// than it holds (a task whose slots were already taken back gives back nothing).
    pub fn unbound(&mut self, executor: &str, slots: u32) -> u32 {
        match self.held.get_mut(executor) {
            Some(held) => {
                let back = slots.min(*held);
                *held -= back;
                back
            }
            None => 0,
        }
    }

    /// Take back the slots held beyond `running` (the slots the running tasks of the running
    /// jobs hold, by executor): those of tasks that no longer run. What was taken back, by
    /// executor, in executor order.
    pub fn reclaim(&mut self, running: &HashMap<String, u32>) -> Vec<(String, u32)> {
        let mut back: Vec<(String, u32)> = self
            .held
            .iter_mut()
            .filter_map(|(executor, held)| {
                let live = running.get(executor).copied().unwrap_or(0);
                let leaked = held.saturating_sub(live);
                *held -= leaked;
                (leaked > 0).then(|| (executor.clone(), leaked))
            })
            .collect();
        back.sort();
        back
    }
}

/// The slots the running tasks of `jobs` hold, by executor; `None` when a job's plan is being
/// changed at this moment (then nothing is reclaimed this time).
fn running_slots(jobs: &HashMap<JobId, JobInfoCache>) -> Option<HashMap<String, u32>> {
    let mut slots: HashMap<String, u32> = HashMap::new();
    for job in jobs.values() {
        let graph = job.execution_graph.try_read().ok()?;
        for task in graph.running_tasks() {
            let held = graph.task_vcores(task.stage_id, task.task_id).unwrap_or(0);
            *slots.entry(task.executor_id).or_default() += held;
        }
    }
    Some(slots)
}

/// Ballista's cluster state, with slots that do not leak (see the module's header).
pub struct Slots {
    inner: Arc<dyn ClusterState>,
    ledger: Mutex<Ledger>,
}

impl Slots {
    pub fn new(inner: Arc<dyn ClusterState>) -> Slots {
        Slots {
            inner,
            ledger: Mutex::new(Ledger::default()),
        }
    }
}

#[async_trait::async_trait]
impl ClusterState for Slots {
    async fn init(&self) -> Result<()> {
        self.inner.init().await
    }

    async fn bind_schedulable_tasks(
        &self,
        distribution: TaskDistributionPolicy,
        active_jobs: Arc<HashMap<JobId, JobInfoCache>>,
        executors: Option<HashSet<String>>,
    ) -> Result<Vec<BoundTask>> {
        // Held while binding, so that the tasks bound are counted before a reclaim looks.
        let mut ledger = self.ledger.lock().await;
        if let Some(running) = running_slots(&active_jobs) {
            let back = ledger.reclaim(&running);
            for (executor, slots) in &back {
                tracing::warn!(
                    %executor,
                    slots,
                    "freed task slots that tasks of a rolled-back or cancelled stage held"
                );
            }
            if !back.is_empty() {
                self.inner.unbind_tasks(back).await?;
            }
        }
        let bound = self
            .inner
            .bind_schedulable_tasks(distribution, active_jobs, executors)
            .await?;
        for (executor, task) in &bound {
            ledger.bound(executor, task.vcores_consumed);
        }
        Ok(bound)
    }

    async fn unbind_tasks(&self, executor_slots: Vec<ExecutorSlot>) -> Result<()> {
        let mut ledger = self.ledger.lock().await;
        let back: Vec<ExecutorSlot> = executor_slots
            .into_iter()
            .map(|(executor, slots)| {
                let slots = ledger.unbound(&executor, slots);
                (executor, slots)
            })
            .filter(|(_, slots)| *slots > 0)
            .collect();
        if back.is_empty() {
            return Ok(());
        }
        self.inner.unbind_tasks(back).await
    }

    async fn register_executor(
        &self,
        metadata: ExecutorMetadata,
        spec: ExecutorData,
    ) -> Result<()> {
        let executor = metadata.id.clone();
        let mut ledger = self.ledger.lock().await;
        self.inner.register_executor(metadata, spec).await?;
        ledger.registered(&executor);
        Ok(())
    }

    async fn save_executor_metadata(&self, metadata: ExecutorMetadata) -> Result<()> {
        self.inner.save_executor_metadata(metadata).await
    }

    async fn get_executor_metadata(&self, executor_id: &str) -> Result<ExecutorMetadata> {
        self.inner.get_executor_metadata(executor_id).await
    }

    async fn registered_executor_metadata(&self) -> Vec<ExecutorMetadata> {
        self.inner.registered_executor_metadata().await
    }

    async fn save_executor_heartbeat(&self, heartbeat: ExecutorHeartbeat) -> Result<()> {
        self.inner.save_executor_heartbeat(heartbeat).await
    }

    async fn remove_executor(&self, executor_id: &str) -> Result<()> {
        let mut ledger = self.ledger.lock().await;
        ledger.removed(executor_id);
        self.inner.remove_executor(executor_id).await
    }

    fn executor_heartbeats(&self) -> HashMap<String, ExecutorHeartbeat> {
        self.inner.executor_heartbeats()
    }

    fn get_executor_heartbeat(&self, executor_id: &str) -> Option<ExecutorHeartbeat> {
        self.inner.get_executor_heartbeat(executor_id)
    }

    async fn cluster_state_events(&self) -> Result<ClusterStateEventStream> {
        self.inner.cluster_state_events().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(e, n)| (e.to_string(), *n)).collect()
    }

    #[test]
    fn slots_of_tasks_that_no_longer_run_are_taken_back_once() {
        let mut ledger = Ledger::default();
        ledger.registered("a");
        ledger.registered("b");
        ledger.bound("a", 2);
        ledger.bound("b", 1);
        ledger.bound("b", 1);
        // A stage rolled back: b's two tasks no longer run, a's still do.
        assert_eq!(
            ledger.reclaim(&running(&[("a", 2)])),
            vec![("b".to_string(), 2)]
        );
        assert_eq!(ledger.reclaim(&running(&[("a", 2)])), vec![]);
        // Their final statuses, if any comes back with slots, give back nothing more.
        assert_eq!(ledger.unbound("b", 1), 0);
        assert_eq!(ledger.unbound("a", 2), 2);
        assert_eq!(ledger.reclaim(&running(&[])), vec![]);
    }

    #[test]
    fn an_executor_is_never_given_back_more_than_it_lent() {
        let mut ledger = Ledger::default();
        ledger.registered("a");
        ledger.bound("a", 3);
        assert_eq!(ledger.unbound("a", 2), 2);
        assert_eq!(ledger.unbound("a", 2), 1);
        assert_eq!(ledger.unbound("a", 1), 0);
        // Unknown or removed executors are given nothing.
        assert_eq!(ledger.unbound("z", 1), 0);
        ledger.removed("a");
        ledger.bound("a", 1);
        assert_eq!(ledger.unbound("a", 1), 0);
    }

    #[test]
    fn slots_of_running_tasks_are_not_taken_back() {
        let mut ledger = Ledger::default();
        ledger.registered("a");
        ledger.bound("a", 2);
        // A task's slots given back before the job marks it done: more running than held.
        assert_eq!(ledger.unbound("a", 1), 1);
        assert_eq!(ledger.reclaim(&running(&[("a", 2)])), vec![]);
        assert_eq!(ledger.unbound("a", 1), 1);
    }
}
