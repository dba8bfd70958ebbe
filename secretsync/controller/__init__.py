"""Controller runtime primitives (internal): the keyed work queue, the Lease leader elector, Events.

Reconcilers (the SealedSecret controller, the Sync agent) are built from
``secretsync.kube.watch`` (list+watch) → ``controller.queue.WorkQueue`` → a reconcile
function, with ``controller.leader.LeaderElector`` deciding which replica writes and
``controller.recorder.EventRecorder`` telling users what happened.
"""
