"""The operator's dashboard, served by ``desk serve`` at ``/``: panels over the command core's read results, their
JSON under ``/api/``, live updates, and (when ``dashboard.actions`` is on) the operators' actions."""
