"""How a run is spread over devices: strategy and precision names, the strategy itself, who is chief.

    STRATEGIES, MIXED_PRECISION                     the names the training CLI offers (this module loads TF lazily)
    strategy = make_strategy("auto")                a tf.distribute.Strategy
    is_chief(strategy), task_info(strategy)         multi-worker role of this process
    split_cpu(n)                                    n logical CPU devices (data parallelism without GPUs)
"""
from __future__ import annotations

import json
import os

from wavebabble.errors import ConfigError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
# float16 is left out: it needs dynamic loss scaling, and Keras 3.15's LossScaleOptimizer fails inside
# strategy.run ("No gradients provided" from its cross-replica cond). bfloat16 keeps float32's range.
MIXED_PRECISION = ("off", "bfloat16")


def make_strategy(name: str = "auto", tpu: str = ""):
    """A tf.distribute strategy by name (see STRATEGIES).

    auto: MultiWorkerMirroredStrategy when TF_CONFIG names more than one task; else MirroredStrategy over all
    GPUs when there are several; else one device (GPU:0 or CPU:0). mirrored without GPUs mirrors over the
    logical CPU devices. multi_worker reads the cluster from TF_CONFIG. tpu: TPUClusterResolver(tpu).
    Must be called before other TensorFlow work (multi_worker and tpu require it).
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ConfigError(f"--strategy={name!r}: choose one of {STRATEGIES}")
    if name == "auto":
        tasks = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster", {})
        if sum(len(v) for v in tasks.values()) > 1:
            name = "multi_worker"
        else:
            name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "one_device"
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0")
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def task_info(strategy) -> tuple[str | None, int | None]:
    """(task_type, task_id) of this process in a multi-worker cluster, (None, None) otherwise."""
    import tensorflow as tf

    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or isinstance(strategy, tf.distribute.TPUStrategy):
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy) -> bool:
    """True unless this is a non-chief worker of a multi-worker cluster (TF docs' rule)."""
    task_type, task_id = task_info(strategy)
    if task_type is None:
        return True
    has_chief = "chief" in strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)


def split_cpu(devices: int) -> None:
    """Split the CPU into `devices` logical devices (before any TensorFlow work); 0 leaves it as it is."""
    if devices > 0:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
