"""Alerts: telling the user what needs them, unasked, through apprise (ntfy, Gotify, Matrix, e-mail, …).

* :mod:`~idealweek.alerts.triggers` decides what is worth an alert (pure);
* :mod:`~idealweek.alerts.channels` fills the secrets into the configured URLs and sends through apprise;
* :mod:`~idealweek.alerts.hook` is what writing cycles and the daemon call: the sent-log that sends each
  alert at most once per subject, quiet hours, the failing streak, the weekly digest;
* :mod:`~idealweek.alerts.command` is ``idealweek alerts test`` and ``idealweek alerts secret NAME``.
"""
