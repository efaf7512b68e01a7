"""Settings shared by training and the CLI (environment variables with the LEADSCORE_ prefix)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from training.options import TrainOptions


class TrainingSettings(BaseSettings):
    """Where data and models live. Every field can be set as ``LEADSCORE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="demo data, stores, MLflow files")
    mlflow_tracking_uri: str | None = Field(
        default=None, description="default: a SQLite MLflow store under data_dir/mlflow"
    )
    mlflow_experiment: str = "leadscore"
    train_baseline_rows: int = Field(
        default=TrainOptions.baseline_rows,
        ge=0,
        description="the trained baselines are fitted on a stratified sample of at most this "
        "many training rows (0: every row); the model card states the size",
    )
    train_outlook_rows: int = Field(
        default=TrainOptions.outlook_rows,
        ge=0,
        description="each outlook (time to conversion, deal value) is fitted on a random "
        "sample of at most this many leads (0: every lead); its notes state the size",
    )
    train_rule_rows: int = Field(
        default=TrainOptions.rule_rows,
        ge=0,
        description="the BANT rule is scored on a stratified sample of at most this many test "
        "rows, and LightGBM compared with it on the same rows (0: every row)",
    )

    @property
    def mlflow_dir(self) -> Path:
        return self.data_dir / "mlflow"

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI in force (the embedded SQLite store by default)."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.mlflow_dir / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        return (self.mlflow_dir / "artifacts").resolve()

    @property
    def demo_data_path(self) -> Path:
        return self.data_dir / "demo" / "leads.parquet"
