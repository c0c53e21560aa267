"""encoder.models_folder: small random BERT models saved by transformers are listed with their
architecture and load equal to BertModel; every kind of bad folder is refused in words."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from encoder import models_folder
from encoder.models_folder import FolderModel, discover, models_dir
from encoder.pretrained import load_bert, minilm_dir

transformers = pytest.importorskip("transformers")
from tests.bert_folders import CONFIGS, save_bert  # noqa: E402

SENTENCES = ["Hi.", "A man is playing a guitar.", "Unbelievably long words.", "Le chat dort."]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A models folder holding every config of CONFIGS, and their BertModels."""
    root = tmp_path_factory.mktemp("zoo")
    models = {name: save_bert(root / name, s, p) for name, (s, p) in CONFIGS.items()}
    return root, models


@pytest.fixture()
def root(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One good folder (2 layers, GELU) to copy and break."""
    folder = tmp_path_factory.mktemp("small") / "good"
    save_bert(folder, dict(num_hidden_layers=2, num_attention_heads=2, hidden_size=16))
    return folder


def only(root: Path, **kw) -> FolderModel:
    found = discover(root, **kw)
    assert len(found) == 1, found
    return found[0]


def refused(root: Path, *words: str, **kw) -> str:
    model = only(root, **kw)
    assert not model.ok and model.line == "" and model.params == 0
    for w in words:
        assert w in model.reason, model.reason
    return model.reason


# --- good folders ------------------------------------------------------------------------------


def test_discover_lists_every_config_with_its_architecture(zoo):
    root, models = zoo
    found = discover(root)
    assert [m.name for m in found] == sorted(CONFIGS)
    for m in found:
        ref = models[m.name]
        cfg = ref.config
        assert m.ok and m.reason == ""
        assert m.path == root / m.name
        assert (m.n_layers, m.n_heads, m.d_model, m.d_ff, m.activation) == (
            cfg.num_hidden_layers,
            cfg.num_attention_heads,
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.hidden_act,
        )
        assert m.params == ref.num_parameters()
        assert m.bytes_on_disk == sum((m.path / f).stat().st_size for f in models_folder.FILES)
        layers, heads = cfg.num_hidden_layers, cfg.num_attention_heads
        assert m.line == (
            f"{layers} layer{'s' * (layers > 1)} · {heads} head{'s' * (heads > 1)} · d_model "
            f"{cfg.hidden_size} · {m.params / 1e6:.1f} M parameters · "
            f"{m.bytes_on_disk / 1e6:.1f} MB"
        )


def test_the_line_reads_as_the_issue_says(zoo):
    found = {m.name: m for m in discover(zoo[0])}
    assert found["one-head"].line == "1 layer · 1 head · d_model 16 · 0.5 M parameters · 2.4 MB"
    assert found["gelu-pooler"].line.startswith("2 layers · 4 heads · d_model 32 · 1.0 M para")
    assert models_folder._params(109_482_240) == "109.5 M parameters"  # bert-base
    assert models_folder._params(12_080) == "12.1 K parameters"
    assert models_folder._size(440_473_133) == "440 MB"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_load_bert_outputs_equal_bertmodel(zoo, name):
    root, models = zoo
    listed = {m.name: m for m in discover(root)}[name]
    ours, tok = load_bert(listed.path)
    ref = models[name]
    batch = tok.encode_batch(SENTENCES)
    assert (batch.attention_mask == 0).any()
    with torch.inference_mode():
        out = ours(batch.input_ids, batch.attention_mask, output_hidden_states=True)
        hf = ref(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            output_hidden_states=True,
        )
    assert len(out.hidden_states) == len(hf.hidden_states) == ref.config.num_hidden_layers + 1
    for i, (a, b) in enumerate(zip(out.hidden_states, hf.hidden_states, strict=True)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=lambda m, i=i: f"hidden {i}: {m}")
    torch.testing.assert_close(out.last_hidden_state, hf.last_hidden_state, atol=1e-5, rtol=0)


def test_a_sentence_transformers_folder_is_listed(root):
    shutil.copytree(minilm_dir(), root / "all-MiniLM-L6-v2")  # modules.json, 1_Pooling, ...
    m = only(root)
    assert m.ok and m.path == root / "all-MiniLM-L6-v2"
    assert m.line.startswith("6 layers · 12 heads · d_model 384 · 22.7 M parameters · 9")
    assert (m.d_ff, m.activation, m.params) == (
        1536,
        "gelu",
        22_713_216,
    )  # its position_ids buffer left out


def test_an_old_sentence_transformers_layout_is_followed(root, small):
    top = root / "old-sbert"
    shutil.copytree(small, top / "0_Transformer")
    kinds = {"0_Transformer": "Transformer", "1_Pooling": "Pooling"}
    modules = [{"path": p, "type": f"sentence_transformers.models.{t}"} for p, t in kinds.items()]
    (top / "modules.json").write_text(json.dumps(modules))
    m = only(root)
    assert m.ok and m.name == "old-sbert" and m.path == top / "0_Transformer"
    assert load_bert(m.path).model.cfg.n_layers == 2


def test_modules_json_cannot_lead_out_of_the_folder(root, small):
    shutil.copytree(small, root / "outside")
    (root / "trick").mkdir()
    modules = [{"path": "../outside", "type": "sentence_transformers.models.Transformer"}]
    (root / "trick" / "modules.json").write_text(json.dumps(modules))
    found = {m.name: m for m in discover(root)}
    assert found["outside"].ok
    assert not found["trick"].ok and "leaves the folder" in found["trick"].reason


def test_sorted_by_name_hidden_folders_and_files_left_out(root, small):
    for name in ("b-model", "A-model", "c"):
        shutil.copytree(small, root / name)
    shutil.copytree(small, root / ".cache")
    (root / "notes.txt").write_text("not a model")
    (root / "loop").symlink_to(root / "loop")  # a link to itself: no folder
    assert [m.name for m in discover(root)] == ["A-model", "b-model", "c"]


def test_a_missing_folder_gives_nothing(tmp_path):
    assert discover(tmp_path / "nowhere") == []
    (tmp_path / "a-file").write_text("x")
    assert discover(tmp_path / "a-file") == []


def test_a_link_inside_the_folder_is_followed(root, small):
    shutil.copytree(small, root / "real")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert [(m.name, m.ok) for m in discover(root)] == [("alias", True), ("real", True)]


def test_the_settings_and_their_defaults(monkeypatch, tmp_path):
    project = Path(models_folder.__file__).resolve().parents[1]
    monkeypatch.delenv("ENCODER_EXPLORER_MODELS", raising=False)
    monkeypatch.delenv("ENCODER_EXPLORER_MODEL_MB", raising=False)
    assert models_dir() == project / "models"
    assert "models/" in (project / ".gitignore").read_text().splitlines()
    assert models_folder.budget_bytes() == 1_500_000_000
    monkeypatch.setenv("ENCODER_EXPLORER_MODELS", str(tmp_path))
    assert models_dir() == tmp_path


def test_only_the_header_is_read(root, small, monkeypatch):
    # weights that load_bert refuses (NaN) are listed: discover never reads them ...
    folder = shutil.copytree(small, root / "nan")
    tensors = load_file(folder / "model.safetensors")
    tensors["embeddings.LayerNorm.weight"][0] = float("nan")
    save_file(tensors, folder / "model.safetensors")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    monkeypatch.setattr(models_folder, "load_bert", lambda *a: pytest.fail("loaded"), raising=False)
    assert only(root).ok
    # ... and load_bert, which does, says so
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_bert(folder)


# --- refusals ----------------------------------------------------------------------------------


def test_a_pickle_only_folder_is_refused_and_never_loaded(root, small, monkeypatch):
    folder = shutil.copytree(small, root / "pickled")
    tensors = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(tensors, folder / "pytorch_model.bin")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    reason = refused(root, "only pytorch_model.bin, a pickle", "convert it to safetensors")
    assert "BertModel.from_pretrained('pickled').save_pretrained('pickled')" in reason


@pytest.mark.parametrize(
    "write, words",
    [
        (lambda p: torch.save({"w": torch.ones(2)}, p), "is a pickle (a PyTorch torch.save zip"),
        (lambda p: p.write_text("<!DOCTYPE html><html>Sign in</html>"), "is a web page (HTML)"),
    ],
)
def test_what_filecheck_refuses_is_refused(root, small, write, words):
    folder = shutil.copytree(small, root / "renamed")
    write(folder / "model.safetensors")
    refused(root, "model.safetensors that cannot be read", words)


@pytest.mark.parametrize(
    "config, words",
    [
        (lambda: transformers.GPT2Config().to_dict(), ["is a gpt2 model", "model_type 'gpt2'"]),
        (lambda: {"model_type": "roberta"}, ["is a roberta model", "only BERT-architecture"]),
        (lambda: {"hidden_size": 8}, ["not a BERT model", "no model_type"]),
    ],
)
def test_another_architecture_is_refused(root, small, config, words):
    folder = shutil.copytree(small, root / "other")
    (folder / "config.json").write_text(json.dumps(config()))
    refused(root, *words)


def test_a_bert_config_this_encoder_cannot_build(root, small):
    folder = shutil.copytree(small, root / "odd")
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(cfg | {"hidden_act": "gelu_new"}))
    refused(root, "config.json this app cannot build", "unsupported hidden_act 'gelu_new'")


LAYER = "encoder.layer.1."
BAD_WEIGHTS = {
    "wrong shape": (
        lambda t: t.update({f"{LAYER}output.dense.weight": t[f"{LAYER}output.dense.weight"].T}),
        f"tensor '{LAYER}output.dense.weight' has shape (32, 16), config.json implies (16, 32)",
    ),
    "missing": (lambda t: t.pop(f"{LAYER}output.dense.bias"), f"missing tensor '{LAYER}output"),
    "unknown tensor": (
        lambda t: t.update({"adapter.weight": torch.zeros(2, 16)}),
        "unexpected tensor(s) ['adapter.weight']",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_WEIGHTS))
def test_weights_that_disagree_with_the_config_are_named(root, small, case):
    change, words = BAD_WEIGHTS[case]
    folder = shutil.copytree(small, root / "bad")
    tensors = {k: v.contiguous() for k, v in load_file(folder / "model.safetensors").items()}
    change(tensors)
    save_file({k: v.contiguous() for k, v in tensors.items()}, folder / "model.safetensors")
    refused(root, "weights that disagree with its config.json", words, "BertModel.from_pretrained")


def test_a_config_with_more_layers_than_the_weights(root, small):
    folder = shutil.copytree(small, root / "deeper")
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(cfg | {"num_hidden_layers": 3}))
    refused(root, "disagree", "missing tensor 'encoder.layer.2.")


def test_a_cut_short_safetensors_is_refused(root, small):
    folder = shutil.copytree(small, root / "cut")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    refused(root, "points outside the file (cut short?)")


def test_a_missing_tokenizer_is_refused(root, small):
    folder = shutil.copytree(small, root / "no-tokenizer")
    (folder / "tokenizer.json").unlink()
    refused(root, "has no tokenizer.json", "AutoTokenizer.from_pretrained('no-tokenizer')")
    shutil.copy(minilm_dir() / "vocab.txt", folder / "vocab.txt")
    refused(root, "has no tokenizer.json (it has vocab.txt")
    torch.save({}, folder / "tokenizer.json")
    refused(root, "tokenizer.json that is not a JSON tokenizer")


@pytest.mark.parametrize(
    "keep, words",
    [
        (["tokenizer.json"], ["is missing config.json and model.safetensors"]),
        ([], ["holds no model: a model folder needs config.json"]),
    ],
)
def test_missing_files_are_named(root, small, keep, words):
    folder = shutil.copytree(small, root / "partial")
    for f in models_folder.FILES:
        if f not in keep:
            (folder / f).unlink()
    refused(root, *words)


def test_a_model_over_the_budget_is_refused(root, small, monkeypatch):
    shutil.copytree(small, root / "big")
    size = (root / "big" / "model.safetensors").stat().st_size
    assert only(root, max_bytes=size + 1).ok
    refused(root, "too large for this server", "over the budget of 1.0 MB", max_bytes=1_000_000)
    monkeypatch.setenv("ENCODER_EXPLORER_MODEL_MB", "0.5")
    reason = refused(root, "budget of 0.5 MB per model (set by ENCODER_EXPLORER_MODEL_MB)")
    assert f"needs about {4 * only(root, max_bytes=10**9).params / 1e6:.1f} MB" in reason


@pytest.mark.parametrize("value", ["abc", "0", "-3", "inf", "nan"])
def test_a_bad_budget_setting_is_named(monkeypatch, value, tmp_path):
    monkeypatch.setenv("ENCODER_EXPLORER_MODEL_MB", value)
    with pytest.raises(ValueError, match="ENCODER_EXPLORER_MODEL_MB must be a number"):
        discover(tmp_path)


def test_links_out_of_the_folder_are_refused(root, small, tmp_path):
    outside = shutil.copytree(small, tmp_path / "elsewhere")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    refused(root, "is a link to a place outside the models folder", "copy the files")
    (root / "linked").unlink()
    folder = shutil.copytree(small, root / "one-link")
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(outside / "model.safetensors")
    refused(root, "has model.safetensors as a link to a place outside the models folder")


@pytest.mark.parametrize(
    "text, words",
    [
        ("{not json", ["broken config.json", "is not a JSON file"]),
        ("[1, 2]", ["broken config.json", "not a JSON object of settings"]),
        ('{"vocab_size": ' + "9" * 40 + "}", ["whole number 40 digits long"]),
        (b"\xff\xfe{}", ["broken config.json"]),
    ],
)
def test_broken_json_is_refused(root, small, text, words):
    folder = shutil.copytree(small, root / "broken")
    path = folder / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    reason = refused(root, *words)
    assert str(root) not in reason  # the server's paths stay on the server


def test_a_broken_modules_json_is_refused(root, small):
    folder = shutil.copytree(small, root / "sbert")
    (folder / "config.json").rename(folder / "moved.json")
    (folder / "modules.json").write_text("[{")
    refused(root, "modules.json that is not valid JSON")


def test_an_unreadable_folder_is_refused_not_raised(root, small, monkeypatch):
    shutil.copytree(small, root / "locked")

    def denied(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(models_folder, "_model_folder", denied)
    refused(root, "could not be read (Permission denied)")
    monkeypatch.setattr(models_folder, "_model_folder", lambda *a: 1 / 0)
    refused(root, "could not be checked (an unexpected error, logged on the server)")
