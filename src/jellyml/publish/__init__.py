"""Before a checkpoint goes public: ``strip`` writes it without its snapshot, ``scan`` lists
which checkpoints under some paths still carry one. Both read through ``jellyml.read``; strip
rewrites a file with each container's own ``strip``. Never unpickles, never imports torch."""
