"""diffqr.distributed on one machine: 1–4 JAX devices (forced host devices) and 1–4 torch ranks
(spawned, gloo), QR forward + backward against single-device diffqr on the same matrix.

On one machine the devices and ranks share its cores: this measures the overhead of the TSQR
structure and its communication volume (bytes per device, from the compiled HLO for JAX and
counted for torch), not a speed-up.  Also prints the arithmetic of a 10⁸ × 100 problem on 64
devices.

usage: python -m diffqr bench --only distributed [--rows M] [--cols N] [--repeats R]
       [--max-devices P]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--rows", type=int, default=200_000)
_PARSER.add_argument("--cols", type=int, default=32)
_PARSER.add_argument("--repeats", type=int, default=5)
_PARSER.add_argument("--max-devices", type=int, default=4)
_PARSER.add_argument("--part", choices=("jax", "torch"), help=argparse.SUPPRESS)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _jax(args) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    import diffqr
    from diffqr import distributed as dd

    jax.config.update("jax_enable_x64", True)
    a0 = np.random.default_rng(0).standard_normal((args.rows, args.cols))

    def loss(qr):
        return lambda a: sum(jnp.sum(y * y) for y in qr(a))

    def timed(f, a):
        jax.block_until_ready(f(a))
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            jax.block_until_ready(f(a))
            times.append(time.perf_counter() - start)
        return _median(times)

    out = [{"devices": "1 (diffqr.qr)", "seconds": timed(jax.jit(jax.grad(loss(diffqr.qr))),
                                                           jnp.asarray(a0)), "bytes": 0}]
    for p in (1, 2, 4):
        if p > min(args.max_devices, len(jax.devices())):
            break
        mesh = Mesh(np.array(jax.devices()[:p]), ("rows",))
        a = jax.device_put(a0, NamedSharding(mesh, P("rows", None)))
        f = jax.jit(jax.grad(loss(lambda x, mesh=mesh: dd.qr(x, mesh=mesh, axis="rows"))))
        text = f.lower(a).compile().as_text()
        sizes = re.findall(r"=\s*f64\[([0-9,]+)\][^=]*?\b(?:all-gather|all-reduce)(?:-start)?\(",
                           text)
        volume = sum(8 * int(np.prod([int(d) for d in s.split(",")])) for s in sizes)
        out.append({"devices": str(p), "seconds": timed(f, a), "bytes": volume})
    return out


def _torch_rank(rank: int, world: int, init: str, args, path: str) -> None:
    import torch
    import torch.distributed as dist

    from diffqr import distributed as dd

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    a = torch.randn(args.rows, args.cols, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))
    block = a.chunk(world)[rank].clone().requires_grad_(True)
    times = []
    for _ in range(args.repeats + 1):
        dist.barrier()
        start = time.perf_counter()
        with dd.traffic() as sent:
            q, r = dd.qr(block)
            ((q * q).sum() + (r * r).sum() / world).backward()
        dist.barrier()
        times.append(time.perf_counter() - start)
    dist.destroy_process_group()
    if rank == 0:
        with open(path, "w") as f:
            json.dump({"devices": str(world), "seconds": _median(times[1:]),
                       "bytes": sent.bytes_sent}, f)


def _torch(args) -> list[dict]:
    import torch
    import torch.multiprocessing as mp

    import diffqr

    torch.set_num_threads(1)
    a = torch.randn(args.rows, args.cols, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    times = []
    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        q, r = diffqr.qr(a)
        ((q * q).sum() + (r * r).sum()).backward()
        times.append(time.perf_counter() - start)
    out = [{"devices": "1 (diffqr.qr)", "seconds": _median(times[1:]), "bytes": 0}]
    for world in (1, 2, 4):
        if world > args.max_devices:
            break
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "out.json")
            mp.start_processes(_torch_rank, args=(world, f"file://{folder}/init", args, path),
                               nprocs=world, start_method="spawn")
            with open(path) as f:
                out.append(json.load(f))
    return out


def _scale_arithmetic() -> str:
    m, n, p, size = 10**8, 100, 64, 8
    rows = m // p
    return (f"10⁸ × 100 float64 on 64 devices: {rows:,} rows and {rows * n * size / 1e9:.2f} GB "
            f"of A per device; forward all-gather sends {2 * n * n * size / 1e3:.0f} KB, "
            f"receives {2 * p * n * n * size / 1e6:.1f} MB; backward all-reduce "
            f"{n * n * size / 1e3:.0f} KB; flops per device ≈ {6 * rows * n * n:.1e} forward, "
            f"{5 * rows * n * n:.1e} backward")


def main() -> None:
    args = _PARSER.parse_args()
    if args.part:
        rows = _jax(args) if args.part == "jax" else _torch(args)
        print(json.dumps(rows))
        return
    print(f"QR forward + backward, {args.rows} × {args.cols} float64, median of {args.repeats}; "
          "one machine (devices/ranks share its cores); bytes: JAX, the collectives' results "
          "in the compiled HLO (received); torch, sent (dd.traffic)\n")
    print("| framework | devices / ranks | seconds | collective bytes per device |")
    print("| --- | --- | --- | --- |")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    for part in ("jax", "torch"):
        command = [sys.executable, "-m", "diffqr._bench.studies.distributed", "--part", part,
                   *sys.argv[1:]]
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if proc.returncode:
            print(f"| {part} | failed: {proc.stderr.strip()[-200:]} | | |")
            continue
        for row in json.loads(proc.stdout.strip().splitlines()[-1]):
            print(f"| {part} | {row['devices']} | {row['seconds']:.3f} | {row['bytes']:,} |")
    print("\n" + _scale_arithmetic())


if __name__ == "__main__":
    main()
