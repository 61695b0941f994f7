"""Score the babbling agent's answers against real dialogue: does it take turns with a partner like a person?

    python -m eval.agent [--model=DIR] [--num_dialogues=16] [--seconds=60] [--fsdd_dir=DIR] [--out=eval/results/agent]

Held-out dialogues: the embedded corpus's process with another seed (HELDOUT_SEED: dialogues the model never
saw), and dialogues assembled from FSDD's real recordings (skipped, and said so, when --fsdd_dir is absent).
Each speaker of each dialogue is the partner once; the answer replaces the other speaker. Conditions, each
scored as the pair (partner, X) against (partner, real other speaker), pooled over the dialogues:
    agent           wavebabble.respond's answer (offline; the SavedModel's respond signature)
    other_dialogue  the other speaker taken from another dialogue (a control with human timing, but not an
                    answer to this partner)
    unconditional   the model's own unconditional dialogue's speaker B (a control: the voice without listening)
Figures (hard VAD per channel, wavebabble.timing): FTO Wasserstein distance (s) and mean relative error of the
pair's timing, gap / overlap / backchannel rates, the share of X's speech that overlaps the partner's, X's speech
share. Speed: offline real-time factor on this machine; the streaming agent (agent.StreamingAgent, in chunks of
agent_frames(...).chunk frames, with the streaming turn-taker) on the first STREAM_ANSWERS partners: time per
chunk (median, p95), and its FTO Wasserstein distance to real next to the offline answer's on the same partners
(what streaming costs in timing: the offline turn-taker hears the partner 24 ms late, the streaming one 192 ms).
Continuation (as dGSLM and SyncLLM score it): held-out dialogues of the embedded corpus's process with per-dialogue
style (STYLE_SPREAD; the embedded corpus itself has one style, so its real halves do not correlate: r ~ 0); the
first half is the prompt (wavebabble.agent.continue_dialogue goes on from it for as long); Pearson r over
dialogues between the prompt's IPU rate, pause rate and mean FTO and the continuation's, with the real second
half as the ceiling and another dialogue's second half as the floor; and whether the continuation is still a
dialogue: the mean rates, and the monologues (the quieter speaker under MONOLOGUE_SHARE of the time).
Writes <out>.json and <out>.md.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from absl import flags

from wavebabble import runtime
from wavebabble.cli import run_main

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FSDD = REPO.parent / "shared" / "data" / "fsdd" / "recordings"
DEFAULT_OUT = REPO / "eval" / "results" / "agent"
HELDOUT_SEED = 777               # the embedded corpus's process, dialogues the shipped model was not trained on
FSDD_SEED = 7
STREAM_ANSWERS = 16              # partners answered by the streaming agent too
CONDITIONS = ("agent", "other_dialogue", "unconditional")
MONOLOGUE_SHARE = 0.02           # a continuation whose quieter speaker speaks less than this is a monologue
STYLE_SPREAD = 0.4               # continuation's held-out dialogues: per-dialogue style (turn_model.dialogue_style)

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("model", None, "Export with the agent; default: the shipped pretrained model.")
    flags.DEFINE_integer("num_dialogues", 16, "Held-out dialogues per corpus (each speaker is the partner once).")
    flags.DEFINE_float("seconds", 60.0, "Length of each held-out dialogue.")
    flags.DEFINE_string("fsdd_dir", str(DEFAULT_FSDD), "FSDD recordings folder (skipped when absent).")
    flags.DEFINE_string("out", str(DEFAULT_OUT), "Output path prefix: <out>.json and <out>.md.")
    flags.DEFINE_integer("seed", 0, "The agent's seed (answer i uses seed + i).")
    flags.DEFINE_integer("continuation_dialogues", 60, "Held-out dialogues with per-dialogue style whose first "
                         "half is continued.")


def build_dialogues(kind: str, num: int, seconds: float, folder: Path, fsdd_dir: str | None = None,
                    seed: int | None = None, style_spread: float = 0.0) -> list:
    """[(name, stereo float32 [n, 2] at 8 kHz)] of a held-out corpus built into `folder` ("babble": the embedded
    corpus's process with `seed`, default HELDOUT_SEED; "fsdd": assembled from fsdd_dir's utterances)."""
    from wavebabble.audio import read_stereo
    from wavebabble.corpus.build import CorpusSpec, build_corpus
    from wavebabble.corpus.default import DEFAULT_SPEC
    from wavebabble.corpus.turn_model import TurnTakingParams

    if kind == "babble":
        spec = dataclasses.replace(DEFAULT_SPEC, seed=HELDOUT_SEED if seed is None else seed, num_dialogues=num,
                                   seconds_each=seconds)
    else:
        spec = CorpusSpec(kind="assemble", utterances_dir=str(fsdd_dir), num_dialogues=num, seconds_each=seconds,
                          sample_rate=8000, seed=FSDD_SEED if seed is None else seed)
    build_corpus(folder, spec, progress=False, turn_params=TurnTakingParams(style_spread=style_spread))
    return [(p.name, read_stereo(p, 8000)[0]) for p in sorted(folder.glob("*.wav"))]


def pair_vads(pairs: list) -> list:
    """[(partner [n], other [n])] at 8 kHz -> their hard VADs [frames, 2] (partner in channel 0)."""
    from wavebabble.vad import hard_vad

    return [hard_vad(np.stack([p, x], -1), 8000) for p, x in pairs]


def pair_figures(pairs: list, reference) -> dict:
    """pairs: [(partner [n], other [n])] at 8 kHz; reference: the real pairs' timing.TimingStats (timing_stats of
    pair_vads) -> the figures of the module docstring, with the timing score."""
    from wavebabble import timing

    vads = pair_vads(pairs)
    s = timing.timing_stats(vads)
    d = timing.timing_distance(s, reference)
    overlap_share = sum(float((v[:, 0] & v[:, 1]).sum()) for v in vads) / max(1.0, sum(float(v[:, 1].sum())
                                                                                     for v in vads))
    keys = ("gap_per_min", "overlap_per_min", "backchannel_per_min", "fto_median_s", "fto_share_0_400ms")
    return {"timing_score": d["timing_score"], "fto_wasserstein_s": d["fto_wasserstein_s"],
            "mean_relative_error": d["mean_relative_error"], "overlap_share_of_speech": overlap_share,
            "speech_share": float(s.summary["speech_ratio"][1]), **{k: s.summary[k] for k in keys}}


def reference_stats(partners: list, real: list):
    """timing.TimingStats of the real pairs (partner, real other speaker), the reference of pair_figures."""
    from wavebabble import timing

    return timing.timing_stats(pair_vads(list(zip(partners, real))))


def answer_all(agent, partners: list, seed: int) -> tuple[list, float]:
    """[answer [n]] of `agent` (an AgentCore, or a loaded export's .agent) to each partner (answer i with seed
    + i; the partner level-normalised, the answer at its level), and the total wall seconds of the answers."""
    import tensorflow as tf

    from wavebabble.agent import normalize_level

    out, wall = [], 0.0
    for i, p in enumerate(partners):
        heard, gain = normalize_level(p)
        t = time.perf_counter()
        a = agent.respond(tf.constant(heard), tf.constant(seed + i, tf.int64))["agent"].numpy()
        wall += time.perf_counter() - t
        out.append(a / gain)
    return out, wall


def unconditional_speakers(loaded, num: int, samples: int, seed: int) -> list:
    """Speaker B [samples] of `num` unconditional dialogues from the model (generate's any-length path)."""
    from wavebabble.generate import clip_latent_len, generate_clips, load_model_meta

    meta = load_model_meta(loaded)
    latent_len = clip_latent_len(meta, samples / meta["sample_rate"])
    return [audio[:samples, 1] for _, audio in generate_clips(loaded, meta, num, seed, batch=1,
                                                              latent_len=latent_len)]


def corpus_figures(loaded, dialogues: list, seed: int) -> dict:
    """All conditions on one held-out corpus (each speaker the partner once)."""
    partners = [d[:, s] for _, d in dialogues for s in (0, 1)]
    real = [d[:, 1 - s] for _, d in dialogues for s in (0, 1)]
    n = len(partners)
    answers, wall = answer_all(loaded.agent, partners, seed)
    others = [real[(i + 2) % n] for i in range(n)]          # the same side of the next dialogue
    uncond = unconditional_speakers(loaded, n, len(partners[0]), seed + 1000)
    reference = reference_stats(partners, real)
    out = {name: pair_figures(list(zip(partners, xs)), reference)
           for name, xs in (("agent", answers), ("other_dialogue", others), ("unconditional", uncond),
                            ("real", real))}
    seconds = sum(len(p) for p in partners) / 8000.0
    out["offline_real_time_factor"] = wall / seconds
    out["answers"] = n
    out["seconds_each"] = len(partners[0]) / 8000.0
    return out, partners, real, answers


def streaming_figures(loaded, partners: list, real: list, answers: list, seed: int) -> dict:
    """The streaming agent on the first STREAM_ANSWERS partners: per-chunk seconds, and its pair figures
    (pair_figures) against the offline answers' on the same partners."""
    from wavebabble.agent import normalize_level
    from wavebabble.respond import answer

    k = min(STREAM_ANSWERS, len(partners))
    streamed, chunks = [], []
    for i in range(k):
        heard, gain = normalize_level(partners[i])
        a, fig = answer(loaded, heard, seed + i, streaming=True)
        streamed.append(a / gain)
        chunks.append(fig)
    reference = reference_stats(partners[:k], real[:k])
    off = pair_figures(list(zip(partners[:k], answers[:k])), reference)
    on = pair_figures(list(zip(partners[:k], streamed)), reference)
    return {"answers": k, "chunk_ms": 1000 * chunks[0]["chunk_s"],
            "chunk_median_ms": 1000 * float(np.median([c["chunk_median_s"] for c in chunks])),
            "chunk_p95_ms": 1000 * float(np.max([c["chunk_p95_s"] for c in chunks])),
            "chunk_max_ms": 1000 * float(np.max([c["chunk_max_s"] for c in chunks])),
            "real_time_factor": float(np.mean([c["wall_s"] / c["seconds"] for c in chunks])),
            "streaming": on, "offline": off}


def _half_stats(v: np.ndarray) -> list:
    """[IPU rate, pause rate, mean FTO (NaN without speaker changes), the quieter speaker's speech share] of a
    stereo segment's hard VAD [frames, 2]."""
    from wavebabble import timing

    st = timing.timing_stats(v)
    return [st.summary["ipu_per_min"], st.summary["pause_per_min"], float(np.mean(st.fto_s)) if len(st.fto_s)
            else np.nan, float(v.mean(axis=0).min())]


def _pearson(prompt: np.ndarray, after: np.ndarray) -> dict:
    out = {}
    for j, key in enumerate(("ipu_rate_r", "pause_rate_r", "mean_fto_r")):
        ok = np.isfinite(prompt[:, j]) & np.isfinite(after[:, j])
        out[key] = float(np.corrcoef(prompt[ok, j], after[ok, j])[0, 1])
    return out


def continue_all(agent, dialogues: list, seed: int) -> tuple[list, float]:
    """[continuation [n - n // 2, 2]] of each dialogue's first half (agent.continue_dialogue, dialogue i with seed
    + i, the prompt level-normalised, the continuation at its level), and the total wall seconds."""
    from wavebabble.agent import continue_dialogue, normalize_level

    out, wall = [], 0.0
    for i, (_, d) in enumerate(dialogues):
        h = len(d) // 2
        prompt_heard, gain = normalize_level(d[:h])
        t = time.perf_counter()
        out.append(continue_dialogue(agent, prompt_heard, len(d) - h, seed + i) / gain)
        wall += time.perf_counter() - t
    return out, wall


def continuation_timing(vads: list, real: list) -> dict:
    """The continuations' timing as a whole against the real second halves' (timing.timing_distance: the timing
    score, FTO Wasserstein distance, mean relative error), and the monologues among them; vads, real: their hard
    VADs [frames, 2]."""
    from wavebabble import timing

    d = timing.timing_distance(timing.timing_stats(vads), timing.timing_stats(real))
    return {"continuation_timing_score": d["timing_score"], "continuation_fto_wasserstein_s": d["fto_wasserstein_s"],
            "continuation_mean_relative_error": d["mean_relative_error"],
            "monologues": int(sum(v.mean(axis=0).min() < MONOLOGUE_SHARE for v in vads))}


def continuation_figures(loaded, dialogues: list, seed: int) -> dict:
    """Each dialogue's first half is the prompt; Pearson r over dialogues between the prompt's IPU rate, pause
    rate and mean FTO and the continuation's (the agent's), the real second half's (the ceiling) and an
    unconditional dialogue's (the floor, ~0); the continuations' timing against the real halves'."""
    from wavebabble.vad import hard_vad

    conts, wall = continue_all(loaded.agent, dialogues, seed)
    prompt_v = [hard_vad(d[:len(d) // 2], 8000) for _, d in dialogues]
    real_v = [hard_vad(d[len(d) // 2:], 8000) for _, d in dialogues]
    cont_v = [hard_vad(c, 8000) for c in conts]
    prompt, real, cont = (np.asarray([_half_stats(v) for v in vs], np.float64) for vs in (prompt_v, real_v, cont_v))
    uncond = np.roll(real, 1, axis=0)                       # another dialogue's second half: no relation
    means = ("ipu_per_min", "pause_per_min", "mean_fto_s", "quieter_speaker_speech_share")
    return {"dialogues": len(dialogues), "prompt_seconds": len(dialogues[0][1]) // 2 / 8000.0,
            "agent": _pearson(prompt, cont), "real_ceiling": _pearson(prompt, real),
            "other_dialogue": _pearson(prompt, uncond),
            "real_time_factor": wall / sum(len(c) / 8000.0 for c in conts),
            "continuation_means": dict(zip(means, np.nanmean(cont, axis=0).tolist())),
            "real_means": dict(zip(means, np.nanmean(real, axis=0).tolist())),
            **continuation_timing(cont_v, real_v),
            "real_monologues": int((real[:, 3] < MONOLOGUE_SHARE).sum())}


ROW_KEYS = ("fto_wasserstein_s", "mean_relative_error", "overlap_share_of_speech", "speech_share", "gap_per_min",
            "overlap_per_min", "backchannel_per_min", "fto_median_s", "fto_share_0_400ms")


def fmt(v) -> str:
    """A figure for a table: 3 decimals, "-" for None (e.g. an FTO distance with no floor transfers)."""
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(result: dict) -> str:
    lines = ["# The babbling agent: answers to held-out partners", "",
             f"Model: `{result['model']}`{' (the shipped one)' if result.get('shipped') else ''}. Command: "
             f"`{result['command']}`. Written by `eval/agent.py`.", ""]
    for corpus, r in result["corpora"].items():
        lines += [f"## {corpus}: {r['answers']} answers of {r['seconds_each']:.0f} s", "",
                  "| pair (partner, X) | " + " | ".join(ROW_KEYS) + " |",
                  "|---" * (len(ROW_KEYS) + 1) + "|"]
        for cond in CONDITIONS + ("real",):
            lines.append(f"| {cond} | " + " | ".join(fmt(r[cond].get(k)) for k in ROW_KEYS) + " |")
        lines += ["", f"Offline real-time factor: {r['offline_real_time_factor']:.3f}.", ""]
        if "streaming" in r:
            s = r["streaming"]
            lines += [f"Streaming (the first {s['answers']} partners, {s['chunk_ms']:.0f} ms chunks, the streaming "
                      f"turn-taker): median {s['chunk_median_ms']:.1f} ms per chunk, p95 {s['chunk_p95_ms']:.1f} ms, "
                      f"max {s['chunk_max_ms']:.1f} ms; real-time factor {s['real_time_factor']:.3f}. Its answers "
                      f"against the offline ones to the same partners:", "",
                      "| pair (partner, X) | " + " | ".join(ROW_KEYS) + " |", "|---" * (len(ROW_KEYS) + 1) + "|"]
            for cond in ("offline", "streaming"):
                lines.append(f"| {cond} | " + " | ".join(fmt(s[cond].get(k)) for k in ROW_KEYS) + " |")
            lines.append("")
    c = result.get("continuation")
    if c:
        lines += [f"## Continuation: {c['dialogues']} held-out dialogues with per-dialogue style (style_spread "
                  f"{STYLE_SPREAD}), prompt = first {c['prompt_seconds']:.0f} s", "",
                  "Pearson r over dialogues between the prompt's figure and what follows it:", "",
                  "| what follows the prompt | IPU rate | pause rate | mean FTO |", "|---|---|---|---|"]
        for name in ("agent", "real_ceiling", "other_dialogue"):
            lines.append(f"| {name} | " + " | ".join(f"{c[name][k]:.2f}" for k in
                                                      ("ipu_rate_r", "pause_rate_r", "mean_fto_r")) + " |")
        cm, rm = c["continuation_means"], c["real_means"]
        lines += ["", "| what follows the prompt | IPU / min | pauses / min | mean FTO (s) | quieter speaker's speech "
                  f"share | monologues (quieter speaker < {MONOLOGUE_SHARE:.0%}) |", "|---|---|---|---|---|---|"]
        for name, m, k in (("agent", cm, c["monologues"]), ("real", rm, c["real_monologues"])):
            lines.append(f"| {name} | {m['ipu_per_min']:.1f} | {m['pause_per_min']:.1f} | {m['mean_fto_s']:.2f} | "
                         f"{m['quieter_speaker_speech_share']:.2f} | {k} / {c['dialogues']} |")
        lines += ["", f"The continuations' timing against the real second halves': timing score "
                  f"{c['continuation_timing_score']:.3f}, FTO Wasserstein "
                  f"{fmt(c['continuation_fto_wasserstein_s'])} s, "
                  f"mean relative error {c['continuation_mean_relative_error']:.3f}. Real-time factor "
                  f"{c['real_time_factor']:.3f}.", ""]
    return "\n".join(lines)


def main(argv) -> int:
    del argv
    runtime.tune("serve")
    from wavebabble import pretrained
    from wavebabble.respond import load_agent

    model = FLAGS.model or pretrained.default_model()
    loaded = load_agent(model)
    path = Path(model).resolve()
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    result = {"model": str(shown), "shipped": not FLAGS.model, "corpora": {},
              "command": "python -m eval.agent" + (f" --model={FLAGS.model}" if FLAGS.model else "")}
    corpora = [("embedded_heldout", "babble")]
    if Path(FLAGS.fsdd_dir).is_dir():
        corpora.append(("fsdd_assembled", "fsdd"))
    else:
        print(f"--fsdd_dir={FLAGS.fsdd_dir} is absent: FSDD-assembled dialogues skipped", flush=True)
    with tempfile.TemporaryDirectory(prefix="wavebabble-agent-eval-") as tmp:
        for name, kind in corpora:
            t = time.time()
            dialogues = build_dialogues(kind, FLAGS.num_dialogues, FLAGS.seconds, Path(tmp) / name, FLAGS.fsdd_dir)
            r, partners, real, answers = corpus_figures(loaded, dialogues, FLAGS.seed)
            if kind == "babble":
                r["streaming"] = streaming_figures(loaded, partners, real, answers, FLAGS.seed)
            result["corpora"][name] = r
            print(f"{name}: agent FTO W {r['agent']['fto_wasserstein_s']:.3f} s (other dialogue "
                  f"{r['other_dialogue']['fto_wasserstein_s']:.3f}, unconditional "
                  f"{r['unconditional']['fto_wasserstein_s']:.3f}); overlap share {r['agent']['overlap_share_of_speech']:.3f} "
                  f"(real {r['real']['overlap_share_of_speech']:.3f}) [{time.time() - t:.0f} s]", flush=True)
        t = time.time()
        styled = build_dialogues("babble", FLAGS.continuation_dialogues, FLAGS.seconds, Path(tmp) / "styled",
                                 style_spread=STYLE_SPREAD)
        c = result["continuation"] = continuation_figures(loaded, styled, FLAGS.seed)
        print(f"continuation: Pearson r IPU rate {c['agent']['ipu_rate_r']:.2f} (ceiling "
              f"{c['real_ceiling']['ipu_rate_r']:.2f}), pause rate {c['agent']['pause_rate_r']:.2f} "
              f"({c['real_ceiling']['pause_rate_r']:.2f}), mean FTO {c['agent']['mean_fto_r']:.2f} "
              f"({c['real_ceiling']['mean_fto_r']:.2f}); monologues {c['monologues']} / {c['dialogues']} (real "
              f"{c['real_monologues']}) [{time.time() - t:.0f} s]", flush=True)
    out = Path(FLAGS.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    Path(f"{out}.md").write_text(markdown(result))
    print(f"wrote {out}.json and {out}.md")
    return 0


def run() -> None:
    define_flags()
    run_main(main, "eval.agent")


if __name__ == "__main__":
    run()
