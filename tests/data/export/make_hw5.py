#!/usr/bin/env python3
"""Writes the hw5-q2 and hw5-q3 golden sweep directories from the multi-GPU
lab's own numbers (HW5 Q2 times and speedups, Q3 compute and communication
times).  Run from tests/data/export; the output is committed, so this only
documents where the numbers come from."""
import json, os

SYSTEM = {"hostname": "lab", "os": "Linux (golden test data)", "cpu_model": "AMD EPYC 7763", "cpu_cores": 64,
          "memory_bytes": 549755813888, "compiler": "gcc 12.2.0", "trainbench": "0.1.0",
          "libraries": {"json-c": "0.16", "zlib": "1.2.13"}}
MODEL = {"name": "resnet18-cifar", "params": 11173962, "gradients": 11173962, "conv_layers": 17}
T0 = 1700000000


def dump(path, obj):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def sweep(name, preset, title, question, table, configs):
    """configs: [(params, epoch2 dict)] in plan order."""
    plan_cfgs, sum_cfgs = [], []
    for i, (params, ep2) in enumerate(configs, 1):
        cid = "%02d-%s" % (i, "-".join("%s-%s" % kv for kv in params.items()))
        label = " ".join("%s=%s" % kv for kv in params.items())
        plan_cfgs.append({"index": i, "id": cid, "label": label, "params": params, "substitutions": [], "args": []})
        sum_cfgs.append({"index": i, "id": cid, "label": label, "status": "completed"})
        ranks = int(params["gpus"])
        epochs = []
        for e, figures in ((1, {k: v * 1.5 for k, v in ep2.items()}), (2, ep2)):
            ep = {"epoch": e, "warmup": e == 1, "load_s": 0.5, "epoch_s": figures["train_s"] + 1.0,
                  "eval_s": 1.0, "train_loss": 1.0, "test_acc": 60.0, "images": 50000, "images_per_s": 0}
            ep.update(figures)
            if ranks > 1:
                ep["ranks"] = ranks
            epochs.append(ep)
        config = {"model": "resnet18-cifar", "dataset": "cifar10", "batch_size": int(params["batch_size"]),
                  "gpus": ranks}
        dump("%s/%s/result.json" % (name, cid),
             {"schema": "trainbench.result/1", "status": "completed", "config": config, "system": SYSTEM,
              "backend": "cuda (golden test data)", "model": MODEL, "epochs": epochs, "ranks": ranks,
              "summary": {"epochs_completed": 2, "wall_s": 100}, "started_at": T0})
    table.update({"time": "train_s", "epoch": 2, "gpus_per_node": 4, "note": ""})
    dump(name + "/plan.json",
         {"schema": "trainbench.plan/1", "preset": preset, "preset_path": "presets/%s.ini" % preset, "title": title,
          "lab": "hw5", "question": question, "description": "", "scale": "full", "mode": "product", "sets": [],
          "created_at": T0, "table": table, "configs": plan_cfgs})
    dump(name + "/summary.json",
         {"schema": "trainbench.summary/1", "preset": preset, "title": title, "scale": "full", "started_at": T0,
          "status": "completed", "configs": sum_cfgs})


# HW5 Q2: 1-GPU time per batch size per GPU, and the 2- and 4-GPU speedups.
q2 = {32: (15.89, 0.57, 0.35), 128: (9.94, 0.99, 0.86), 512: (9.82, 0.98, 0.90), 1024: (9.87, 0.96, 0.90)}
cfgs = []
for bs, (t1, s2, s4) in q2.items():
    for gpus, t in ((1, t1), (2, round(t1 / s2, 2)), (4, round(t1 / s4, 2))):
        cfgs.append(({"batch_size": str(bs), "gpus": str(gpus)}, {"train_s": t}))
sweep("hw5-q2", "hw5-q2-speedup", "Multi-GPU Q2: speedup of 2 and 4 GPUs",
      "Q2: what speedup do 2 and 4 GPUs give, and is it strong or weak scaling?",
      {"title": "Multi-GPU Q2: speedup of 2 and 4 GPUs",
       "columns": [{"id": "batch_size", "header": "Batch Size per GPU"}],
       "baseline": {"key": "gpus", "value": "1"},
       "pivot": {"key": "gpus", "columns": [
           {"id": "train_s", "header": "{}-GPU Time(s)", "only": ["1"]},
           {"id": "speedup", "header": "{}-GPU Speedup", "only": ["2", "4"]}]}}, cfgs)

# HW5 Q3: compute and communication time, 2 and 4 GPUs at 32/128/512 per GPU.
q3 = {2: {32: (15.50, 11.43), 128: (8.57, 0.40), 512: (7.53, 1.59)},
      4: {32: (15.40, 23.80), 128: (8.50, 0.98), 512: (7.50, 3.20)}}
cfgs = []
for gpus, by_bs in q3.items():
    for bs, (comp, comm) in by_bs.items():
        cfgs.append(({"gpus": str(gpus), "batch_size": str(bs)},
                     {"train_s": round(comp + comm, 2), "compute_s": comp, "comm_s": comm}))
sweep("hw5-q3", "hw5-q3-communication", "Multi-GPU Q3: compute against communication, all-reduce bandwidth",
      "Q3: how does time split between compute and communication, and what bandwidth is used?",
      {"title": "Multi-GPU Q3: compute against communication, all-reduce bandwidth",
       "columns": [{"id": "gpus", "header": "Configuration (GPUs)"}],
       "pivot": {"key": "batch_size", "columns": [
           {"id": "compute_s", "header": "Batch {} Compute(s)", "only": []},
           {"id": "comm_s", "header": "Batch {} Comm(s)", "only": []},
           {"id": "bandwidth", "header": "Batch {} Bandwidth (GB/s)", "only": []}]}}, cfgs)
