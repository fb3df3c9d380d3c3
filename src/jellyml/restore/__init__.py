"""What changes the user's repository: ``eat`` (check a snapshot out), ``undo`` (put the user's
work back), and what they stand on: ``savepoint`` (the user's state as commits), ``history``
(what to undo, per repository), ``legacy`` (JellyML 1.0.0's history), ``lock``, ``crash``
(crash points for the tests), ``fixes`` (the ``jellyml fix`` commands)."""
