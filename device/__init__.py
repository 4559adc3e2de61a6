"""PCOS firmware simulator: state machine, crash-safe journal, audit log, reports,
hardware faults and reserve takeover (docs/device.md).  Start with
:class:`device.machine.Pcos` and :func:`device.session.run`."""
