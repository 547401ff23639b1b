"""The GPU exporter: dcgm-exporter names, labels and units from NVML readings, per-device
error isolation, and serving `slakit_gpu_nvml_up 0` when NVML is missing.

NVML answers come from tests/fake_nvml.py (this machine has no GPU), passed to the exporter
as its NVML module. The last tests run the real exporter process on the real pynvml, which
finds no driver here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pynvml
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from slakit.exporters import gpu
from tests.fake_nvml import GIB, FakeGpu, FakeNvml, FakeProcess
from tests.servers import REPO, serve_module

HOST = "node-a"
UUID0 = "GPU-3f1c0b7e-8d2a-4c55-9e61-0a7b2c9d4e10"
UUID1 = "GPU-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
SBE, DBE = pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
VOL, AGG = pynvml.NVML_VOLATILE_ECC, pynvml.NVML_AGGREGATE_ECC


def two_gpus() -> list[FakeGpu]:
    """An idle-ish A100 and a busy, power-capped and hot H100 with some ECC history."""
    return [
        FakeGpu(uuid=UUID0, util_gpu=3, util_memory=0, memory_used=512 * 1024**2),
        FakeGpu(
            uuid=UUID1,
            name="NVIDIA H100 80GB HBM3",
            memory_total=80 * GIB,
            memory_used=int(71.5 * GIB),
            util_gpu=98,
            util_memory=63,
            temperature_c=83,
            power_mw=698_250,
            power_limit_mw=700_000,
            sm_clock_mhz=1755,
            mem_clock_mhz=2619,
            pcie_tx_kbps=12_500,
            pcie_rx_kbps=1_250_000,
            ecc={(SBE, VOL): 3, (DBE, VOL): 0, (SBE, AGG): 42, (DBE, AGG): 1},
            clocks_event_reasons=(
                pynvml.nvmlClocksEventReasonSwPowerCap
                | pynvml.nvmlClocksEventReasonHwThermalSlowdown
            ),
        ),
    ]


def scraper(nvml: FakeNvml) -> Callable[[], str]:
    """Scrape one exporter registry over `nvml` each call, as Prometheus would."""
    registry = gpu.build_registry(gpu.GpuExporterConfig(hostname=HOST), nvml)
    return lambda: generate_latest(registry).decode()


def exposition(nvml: FakeNvml) -> str:
    return scraper(nvml)()


def samples(text: str) -> dict[str, list[Sample]]:
    """Sample name -> samples of a Prometheus text exposition."""
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def by_gpu(found: dict[str, list[Sample]], name: str) -> dict[str, float]:
    return {s.labels["gpu"]: s.value for s in found.get(name, [])}


def value(found: dict[str, list[Sample]], name: str, **labels: str) -> float:
    matches = [s.value for s in found[name] if labels.items() <= s.labels.items()]
    assert len(matches) == 1, (name, labels, found[name])
    return matches[0]


def test_two_gpus_every_family_with_dcgm_labels_and_units():
    found = samples(exposition(FakeNvml(two_gpus())))

    for name in [*(f.name for f in gpu.FIELDS), gpu.THROTTLE_FIELD]:
        series = found[name]
        assert [s.labels for s in series] == [
            {"gpu": "0", "UUID": UUID0, "device": "nvidia0",
             "modelName": "NVIDIA A100-SXM4-80GB", "Hostname": HOST},
            {"gpu": "1", "UUID": UUID1, "device": "nvidia1",
             "modelName": "NVIDIA H100 80GB HBM3", "Hostname": HOST},
        ], name  # fmt: skip
    expected = {
        "DCGM_FI_DEV_GPU_UTIL": {"0": 3, "1": 98},  # %
        "DCGM_FI_DEV_MEM_COPY_UTIL": {"0": 0, "1": 63},  # %
        "DCGM_FI_DEV_FB_USED": {"0": 512, "1": 73216},  # MiB
        "DCGM_FI_DEV_FB_FREE": {"0": 81408, "1": 8704},  # MiB
        "DCGM_FI_DEV_FB_TOTAL": {"0": 81920, "1": 81920},  # MiB
        "DCGM_FI_DEV_GPU_TEMP": {"0": 64, "1": 83},  # C
        "DCGM_FI_DEV_POWER_USAGE": {"0": 312.5, "1": 698.25},  # W from mW
        "DCGM_FI_DEV_POWER_MGMT_LIMIT": {"0": 400, "1": 700},  # W from mW
        "DCGM_FI_DEV_SM_CLOCK": {"0": 1410, "1": 1755},  # MHz
        "DCGM_FI_DEV_MEM_CLOCK": {"0": 1593, "1": 2619},  # MHz
        "DCGM_FI_PROF_PCIE_TX_BYTES": {"0": 2_048_000, "1": 12_800_000},  # B/s from KB/s
        "DCGM_FI_PROF_PCIE_RX_BYTES": {"0": 15_360_000, "1": 1_280_000_000},
        "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": {"0": 0, "1": 3},
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": {"0": 0, "1": 0},
        "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL": {"0": 0, "1": 42},
        "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL": {"0": 0, "1": 1},
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": {"0": 0, "1": 0x44},
    }
    assert {name: by_gpu(found, name) for name in expected} == expected

    throttled = {
        (s.labels["gpu"], s.labels["reason"]): s.value for s in found["slakit_gpu_throttle_reason"]
    }
    assert set(throttled) == {(g, r) for g in "01" for r in gpu.THROTTLE_REASONS}
    assert {k for k, v in throttled.items() if v == 1} == {
        ("1", "sw_power_cap"),
        ("1", "hw_thermal_slowdown"),
    }
    assert set(found["slakit_gpu_throttle_reason"][0].labels) == {*gpu.DEVICE_LABELS, "reason"}

    assert value(found, "slakit_gpu_nvml_up") == 1
    assert value(found, "slakit_gpu_nvml_info", reason="ok", driver_version="550.54.15") == 1
    assert value(found, "slakit_gpu_up", target="nvml") == 1
    assert "slakit_gpu_nvml_errors_total" not in found


def test_exposition_parses_as_prometheus_text_and_openmetrics():
    nvml = FakeNvml(two_gpus())
    families = list(text_string_to_metric_families(exposition(nvml)))
    names = {f.name for f in families}
    assert {f.name for f in gpu.FIELDS} <= names
    assert {gpu.THROTTLE_FIELD, "slakit_gpu_throttle_reason", "slakit_gpu_nvml_up"} <= names

    # Prometheus asks for OpenMetrics first; that rendering must parse too (it is stricter).
    registry = gpu.build_registry(gpu.GpuExporterConfig(hostname=HOST), nvml)
    om = list(parse_openmetrics(generate_openmetrics(registry).decode()))
    assert {f.name for f in gpu.FIELDS} <= {f.name for f in om}


def test_one_devices_nvml_errors_hide_only_that_reading_and_are_counted():
    gpus = [*two_gpus(), FakeGpu(uuid="GPU-third")]
    gpus[0].fail = {
        "nvmlDeviceGetPowerUsage": pynvml.NVMLError_Unknown(),
        "nvmlDeviceGetTotalEccErrors": pynvml.NVMLError_NotSupported(),  # consumer board
        "nvmlDeviceGetComputeRunningProcesses": pynvml.NVMLLibraryMismatchError("old driver"),
    }
    gpus[1].fail = {"nvmlDeviceGetUUID": pynvml.NVMLError_GpuIsLost()}
    scrape = scraper(FakeNvml(gpus))

    found = samples(scrape())
    assert by_gpu(found, "DCGM_FI_DEV_POWER_USAGE") == {"2": 312.5}
    assert by_gpu(found, "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL") == {"2": 0}
    assert by_gpu(found, "DCGM_FI_DEV_GPU_TEMP") == {"0": 64, "2": 64}
    assert by_gpu(found, "DCGM_FI_DEV_FB_TOTAL") == {"0": 81920, "2": 81920}
    assert value(found, "slakit_gpu_nvml_up") == 1
    assert value(found, "slakit_gpu_up", target="nvml") == 1

    found = samples(scrape())
    errors = {
        (s.labels["gpu"], s.labels["field"], s.labels["reason"]): s.value
        for s in found["slakit_gpu_nvml_errors_total"]
    }
    assert errors == {  # cumulative over the two scrapes; NotSupported is not an error
        ("0", "DCGM_FI_DEV_POWER_USAGE", "unknown"): 2,
        ("0", "processes", "library_mismatch"): 2,
        ("1", "device", "gpu_is_lost"): 2,
    }


def test_process_list_gives_per_process_memory():
    gpus = two_gpus()
    gpus[0].compute = [
        FakeProcess(pid=4242, used_bytes=18 * GIB, name="python3"),
        FakeProcess(pid=777, used_bytes=None, name="hidden"),  # memory not visible: skipped
    ]
    gpus[0].graphics = [FakeProcess(pid=4242, used_bytes=18 * GIB, name="python3")]
    gpus[1].compute = [FakeProcess(pid=9001, used_bytes=GIB // 2, name=None)]

    found = samples(exposition(FakeNvml(gpus)))

    assert [(s.labels, s.value) for s in found["slakit_gpu_process_memory_used_bytes"]] == [
        ({"gpu": "0", "UUID": UUID0, "pid": "4242", "process_name": "python3"}, 18 * GIB),
        ({"gpu": "1", "UUID": UUID1, "pid": "9001", "process_name": ""}, GIB // 2),
    ]


def test_throttle_reasons_fall_back_to_the_pre_r535_call():
    gpus = two_gpus()
    for g in gpus:
        g.fail = {"nvmlDeviceGetCurrentClocksEventReasons": pynvml.NVMLError_FunctionNotFound()}
    nvml = FakeNvml(gpus)

    found = samples(exposition(nvml))

    assert by_gpu(found, gpu.THROTTLE_FIELD) == {"0": 0, "1": 0x44}
    assert nvml.calls["nvmlDeviceGetCurrentClocksThrottleReasons"] == 2
    assert "slakit_gpu_nvml_errors_total" not in found


def test_nvml_missing_serves_nvml_up_0_and_recovers_when_a_driver_appears():
    nvml = FakeNvml(two_gpus(), init_error=pynvml.NVMLError_LibraryNotFound())
    scrape = scraper(nvml)

    for attempt in (1, 2):
        found = samples(scrape())
        assert value(found, "slakit_gpu_nvml_up") == 0
        assert value(found, "slakit_gpu_nvml_info", reason="library_not_found") == 1
        assert value(found, "slakit_gpu_up", target="nvml") == 1  # the exporter itself works
        assert value(found, "slakit_gpu_nvml_errors_total", field="init") == attempt
        assert not any(name.startswith("DCGM_") for name in found)
    assert nvml.calls["nvmlInit"] == 2  # retried on every scrape

    nvml.init_error = None  # the driver is installed
    found = samples(scrape())
    assert value(found, "slakit_gpu_nvml_up") == 1
    assert value(found, "slakit_gpu_nvml_info", reason="ok") == 1
    assert by_gpu(found, "DCGM_FI_DEV_GPU_UTIL") == {"0": 3, "1": 98}
    scrape()
    assert nvml.calls["nvmlInit"] == 3  # once up, NVML stays initialized


def test_no_gpu_and_a_lost_driver_are_reasons_too():
    found = samples(exposition(FakeNvml([])))
    assert value(found, "slakit_gpu_nvml_up") == 0
    assert value(found, "slakit_gpu_nvml_info", reason="no_gpu") == 1

    nvml = FakeNvml(two_gpus())
    scrape = scraper(nvml)
    assert value(samples(scrape()), "slakit_gpu_nvml_up") == 1
    nvml.initialized = False  # driver reloaded under the exporter: calls say Uninitialized
    found = samples(scrape())
    assert value(found, "slakit_gpu_nvml_up") == 0
    assert value(found, "slakit_gpu_nvml_info", reason="uninitialized") == 1
    assert value(found, "slakit_gpu_nvml_errors_total", field="system") == 1
    assert value(samples(scrape()), "slakit_gpu_nvml_up") == 1  # re-initialized


def test_real_pynvml_without_a_driver_reports_library_not_found():
    found = samples(generate_latest(gpu.build_registry(gpu.GpuExporterConfig())).decode())
    assert value(found, "slakit_gpu_nvml_up") == 0
    assert value(found, "slakit_gpu_nvml_info", reason="library_not_found") == 1


def test_real_exporter_process_serves_health_and_nvml_up_0():
    with serve_module("slakit.exporters.gpu") as url:
        health = httpx.get(f"{url}/health", timeout=5)
        assert (health.status_code, health.text) == (200, "ok\n")
        for _ in range(2):  # still answering after failed nvmlInit retries
            metrics = httpx.get(f"{url}/metrics", timeout=10)
            assert metrics.status_code == 200
            assert "slakit_gpu_nvml_up 0" in metrics.text
        found = samples(metrics.text)
        assert value(found, "slakit_gpu_nvml_info", reason="library_not_found") == 1
        assert value(found, "slakit_gpu_up", target="nvml") == 1


def run_exporter(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slakit.exporters.gpu", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_config_precedence_flags_over_environment_over_file(tmp_path: Path):
    config = tmp_path / "gpu.yaml"
    config.write_text("port: 19500\nhost: 0.0.0.0\nhostname: from-file\ntimeout_s: 2\n")
    script = (
        "import sys; from pathlib import Path; from slakit.exporters.gpu import load_config; "
        "print(load_config(Path(sys.argv[1]), port=19600).model_dump_json())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "SLAKIT_GPU_EXPORTER_PORT": "19550",
             "SLAKIT_GPU_EXPORTER_HOSTNAME": "from-env"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        '{"host":"0.0.0.0","port":19600,"timeout_s":2.0,"hostname":"from-env"}'
    )
    assert gpu.load_config(None).port == gpu.DEFAULT_PORT


def test_bad_config_exits_2_with_file_and_line(tmp_path: Path):
    config = tmp_path / "gpu.yaml"
    config.write_text("host: 0.0.0.0\nport: 70000\ncolour: green\n")
    out = run_exporter("--config", str(config))
    assert out.returncode == 2
    assert f"error: {config}:2: port: Input should be less than or equal to 65535" in out.stderr
    assert f"error: {config}:3: colour: unknown field" in out.stderr
    assert "Traceback" not in out.stderr

    out = run_exporter("--port", "0")
    assert out.returncode == 2
    assert "error: command line: port: Input should be greater than or equal to 1" in out.stderr
