"""The MLflow store: runs, metric histories and checkpoints in train's format (mlflow.py), the
store file's checks (check.py) and the empty store template a new store is copied from
(template.py). The only room that imports mlflow; `tracking/` keeps the protocol train() logs to."""
