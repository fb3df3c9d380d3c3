"""Before a checkpoint goes public: ``strip`` writes it without its snapshot (``shallow``:
with a shallow one), ``scan`` lists which checkpoints under some paths still carry one, and
``secrets`` looks inside each snapshot (tree, history, metadata) and pickle for what should not
be published (``rules``, ``pickles``; SARIF output in ``sarif``). Everything reads through
``jellyml.read``; strip rewrites a file with each container's own ``strip``. Never unpickles;
only ``strip --history`` of a torch.save file imports torch."""
