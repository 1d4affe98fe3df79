"""The built-in catalog ("zoo"): every entry loads, is typed, cited and sane; lookups, groups,
user catalogs and errors behave as documented in docs/catalog.md."""
from __future__ import annotations

import math
import textwrap

import pint
import pydantic
import pytest

import mlsysim
from mlsysim.core import catalog
from mlsysim.core.errors import SchemaError, UnknownNameError, UserInputError
from mlsysim.core.units import Q_, ureg
from mlsysim.hardware.types import HardwareNode
from mlsysim.infra.types import GridRegion
from mlsysim.models.types import CNNWorkload, TransformerWorkload
from mlsysim.systems.types import Cluster, Fabric, Node

Hardware, Models, Systems, Infra = mlsysim.Hardware, mlsysim.Models, mlsysim.Systems, mlsysim.Infra
SECTIONS = ("hardware", "fabrics", "models", "grids", "nodes", "clusters")

# Expected dimension of every quantity field, by the field's name (the last path component).
EXPECTED_UNIT = {
    "peak_flops": "FLOP/s", "precision_flops": "FLOP/s", "capacity": "byte", "bandwidth": "byte/s",
    "tdp": "W", "latency": "s", "price_usd": "USD", "cloud_price_per_hour": "USD/hour",
    "embodied_carbon": "kg", "carbon_intensity": "g/kWh", "electricity_price": "USD/kWh",
    "wue": "L/kWh", "host_power": "W", "host_price": "USD", "mtbf": "hour",
    "flops_per_sample": "FLOP", "activation_bytes_per_sample": "byte",
}


def all_entries():
    return [(s, e) for s in SECTIONS for e in catalog.registry(s).all()]


def quantities(obj, path=""):
    """Yield (path, quantity) for every pint Quantity inside a (nested) pydantic model.
    Referenced catalog entries (a node's accelerator, a cluster's node) are not descended into."""
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        p = f"{path}.{name}" if path else name
        if isinstance(value, pint.Quantity):
            yield p, value
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, pint.Quantity):
                    yield f"{p}.{k}", v
        elif isinstance(value, pydantic.BaseModel) and not isinstance(value, catalog.CatalogEntry):
            yield from quantities(value, p)


@pytest.fixture
def restore_registries():
    """Snapshot every registry and restore it after the test (user catalogs mutate global state)."""
    catalog._ensure_loaded()
    snap = {s: (dict(r._entries), dict(r._index)) for s, r in catalog._REGISTRIES.items()}
    yield
    for s, (entries, index) in snap.items():
        catalog._REGISTRIES[s]._entries, catalog._REGISTRIES[s]._index = entries, index


def registry_state():
    return {s: sorted(catalog.registry(s).names()) for s in SECTIONS}


# --------------------------------------------------------------------------------------------
# Loading, typing, sources
# --------------------------------------------------------------------------------------------
def test_counts():
    assert len(Hardware) >= 35
    assert len(Infra.Grids) >= 20
    assert len(Models) >= 20
    assert len(Systems.Fabrics) >= 8 and len(Systems.Nodes) >= 5 and len(Systems.Clusters) >= 8
    sizes = [c.total_accelerators for c in Systems.Clusters]
    assert min(sizes) <= 8 and max(sizes) >= 16384


def test_every_entry_has_the_right_type():
    kinds = {"hardware": HardwareNode, "fabrics": Fabric, "grids": GridRegion, "nodes": Node,
             "clusters": Cluster, "models": (TransformerWorkload, CNNWorkload)}
    for section, entry in all_entries():
        assert isinstance(entry, kinds[section]), (section, entry.key)


def test_every_quantity_is_a_pint_quantity_with_the_right_dimension():
    checked = 0
    for section, entry in all_entries():
        for path, q in quantities(entry):
            field = path.split(".")[-1] if path.split(".")[-2:-1] != ["precision_flops"] else "precision_flops"
            assert field in EXPECTED_UNIT, f"{section}/{entry.key}: no expected unit for {path}"
            assert q._REGISTRY is ureg, f"{entry.key}.{path} is not from mlsysim's registry"
            assert q.is_compatible_with(EXPECTED_UNIT[field]), f"{entry.key}.{path} = {q}"
            assert math.isfinite(q.magnitude), f"{entry.key}.{path} = {q}"
            checked += 1
    assert checked > 400


def test_every_entry_cites_a_source():
    for section, entry in all_entries():
        assert entry.source.strip(), (section, entry.key)
        assert len(entry.source) >= 20, (section, entry.key, entry.source)
        for field, citation in entry.sources.items():
            assert len(citation.strip()) >= 10, (entry.key, field)


def test_prices_and_carbon_have_their_own_citation():
    for hw in Hardware:
        for field in ("price_usd", "cloud_price_per_hour", "embodied_carbon"):
            if getattr(hw, field) is not None:
                assert field in hw.sources or field.replace("_", " ") in hw.source.lower(), (hw.key, field)


def test_unpublished_tdp_is_null_and_says_so():
    missing = [hw for hw in Hardware if hw.tdp is None]
    assert {"TPUv5e", "TPUv5p", "TPUv6e", "Trainium2"} <= {hw.key for hw in missing}
    for hw in missing:
        assert "not published" in hw.source_of("tdp") or "not a TDP" in hw.source_of("tdp"), hw.key
        assert math.isnan(hw.si["tdp"])


# --------------------------------------------------------------------------------------------
# Sane ranges
# --------------------------------------------------------------------------------------------
def test_hardware_ranges():
    for hw in Hardware:
        c = hw.compute
        assert hw.memory.capacity.m_as("B") > 0 and hw.memory.bandwidth.m_as("B/s") > 0, hw.key
        assert c.peak_flops.m_as("FLOP/s") > 0, hw.key
        assert hw.tdp is None or hw.tdp.m_as("W") > 0, hw.key
        assert 2015 <= hw.release_year <= 2026, hw.key
        assert c.default_precision in c.precision_flops, hw.key
        assert c.precision_flops[c.default_precision] == c.peak_flops, hw.key
        pf = {k: v.m_as("FLOP/s") for k, v in c.precision_flops.items()}
        for hi, lo in [("fp8", "fp16"), ("fp8", "bf16"), ("fp16", "fp32"), ("bf16", "fp32"),
                       ("fp4", "fp8"), ("int8", "fp16"), ("int4", "int8"), ("tf32", "fp32"), ("fp16", "tf32")]:
            if hi in pf and lo in pf:
                assert pf[hi] >= pf[lo], f"{hw.key}: {hi} {pf[hi]:.3g} < {lo} {pf[lo]:.3g}"
        if hw.interconnect is not None:
            assert hw.interconnect.bandwidth.m_as("GB/s") > 0, hw.key


def test_category_scales():
    for hw in Hardware.Cloud:
        assert hw.memory.capacity >= Q_("16 GB"), hw.key
        assert hw.compute.peak_flops >= Q_("50 TFLOP/s"), hw.key
    for hw in Hardware.Tiny:
        assert hw.memory.capacity <= Q_("2 MiB"), hw.key
        assert hw.compute.peak_flops <= Q_("100 GFLOP/s"), hw.key
        assert hw.tdp is None or hw.tdp <= Q_("1 W"), hw.key
    for hw in Hardware.Edge:
        assert hw.tdp is not None and hw.tdp <= Q_("100 W"), hw.key


def test_grid_ranges_and_seed_ordering():
    for g in Infra.Grids:
        assert 1.0 <= g.pue <= 2.0, g.key
        assert 0 <= g.carbon_intensity.m_as("g/kWh") <= 1200, g.key
        assert 0.01 <= g.electricity_price.m_as("USD/kWh") <= 0.6, g.key
        assert 0 <= g.wue.m_as("L/kWh") <= 5, g.key
    q, us, pl = Infra.Grids.Quebec, Infra.Grids.US_Avg, Infra.Grids.Poland
    assert q.carbon_intensity < us.carbon_intensity < pl.carbon_intensity  # seed s06
    required = {"Quebec": "Quebec", "US_Avg": "US Average", "Poland": "Poland", "Iowa": "Iowa",
                "Norway": "Norway", "France": "France", "Germany": "Germany", "California": "California",
                "Texas": "Texas", "Virginia": "Virginia", "Ireland": "Ireland", "Sweden": "Sweden",
                "India": "India", "Singapore": "Singapore", "Japan": "Japan"}
    for key, name in required.items():
        assert Infra.Grids.get(key).name == name


def test_systems_ranges():
    for f in Systems.Fabrics:
        assert f.bandwidth.m_as("B/s") > 0 and f.latency.m_as("s") > 0, f.key
    for n in Systems.Nodes:
        assert n.host_power.m_as("W") >= 0, n.key
    for c in Systems.Clusters:
        assert c.oversubscription >= 1.0, c.key
        assert c.topology in ("fat-tree", "rail-optimized", "torus", "dragonfly", "single-node")
        if c.topology == "single-node":
            assert c.node_count == 1, c.key


def test_node_host_power_is_system_max_minus_gpus():
    # DGX A100: 6.5 kW max - 8 x 400 W = 3.3 kW;  DGX H100: 10.2 kW - 8 x 700 W = 4.6 kW;
    # DGX B200: 14.3 kW - 8 x 1000 W = 6.3 kW.
    for key, system_max in [("DGX_A100", 6500), ("DGX_H100", 10200), ("DGX_B200", 14300)]:
        n = Systems.Nodes.get(key)
        total = n.host_power.m_as("W") + n.accelerators_per_node * n.accelerator.tdp.m_as("W")
        assert total == pytest.approx(system_max), key


def test_required_clusters():
    r = Systems.Clusters.Research_256
    assert r.total_accelerators == 256 and r.hardware.key == "A100" and r.fabric.key == "IB_HDR"
    h = Systems.Clusters.H100_256
    assert h.total_accelerators == 256 and h.hardware.key == "H100" and h.fabric.key == "IB_NDR"
    assert Systems.Clusters.H100_16384.total_accelerators == 16384
    assert Systems.Clusters.TPUv5p_8960.total_accelerators == 8960
    # 200 Gbit/s HDR = 25 GB/s per GPU, one direction
    assert r.fabric.si["bandwidth"] == pytest.approx(25e9)


# --------------------------------------------------------------------------------------------
# Workloads: derived parameters
# --------------------------------------------------------------------------------------------
def test_every_llm_derives_its_published_parameter_count():
    rows, bad = [], []
    for m in Models:
        if not isinstance(m, TransformerWorkload):
            continue
        assert m.published_params, m.key
        err = m.parameters / m.published_params - 1
        rows.append(f"{m.key:20s} derived {m.parameters / 1e9:10.3f}B  published {m.published_params / 1e9:10.3f}B  {100 * err:+6.2f}%")
        if abs(err) > 0.03:
            bad.append(m.key)
        if m.is_moe:
            assert m.published_active_params, m.key
            aerr = m.active_parameters / m.published_active_params - 1
            rows.append(f"{'  active':20s} derived {m.active_parameters / 1e9:10.3f}B  published {m.published_active_params / 1e9:10.3f}B  {100 * aerr:+6.2f}%")
            if abs(aerr) > 0.03:
                bad.append(m.key + " (active)")
    assert len(rows) >= 20
    assert not bad, "derived parameter counts off by more than 3%:\n" + "\n".join(rows)


def test_llama3_8b_by_hand():
    # Per layer: q,o 4096*4096*2 + k,v 2*4096*1024 (8 KV heads x 128) + SwiGLU 3*4096*14336 + 2 RMSNorms 2*4096
    per_layer = 4096 * 4096 * 2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096
    assert per_layer == 218_112_000
    total = 32 * per_layer + 4096 + 2 * 128256 * 4096  # + final norm + untied embedding and head
    assert total == 8_030_261_248
    assert Models.Llama3_8B.parameters == total


def test_deepseek_v3_by_hand():
    m = Models.DeepSeek_V3
    # MLA: q = 7168*1536 + 1536 + 1536*128*(128+64); kv = 7168*(512+64) + 512 + 512*128*(128+128); o = 128*128*7168
    attn = (7168 * 1536 + 1536 + 1536 * 128 * 192) + (7168 * 576 + 512 + 512 * 128 * 256) + 128 * 128 * 7168
    assert m.attention_params_per_layer == attn == 187_107_328
    expert = 3 * 7168 * 2048                     # one routed/shared expert (SwiGLU)
    moe_mlp = 257 * expert + 7168 * 256          # 256 routed + 1 shared + router
    dense_mlp = 3 * 7168 * 18432
    total = 3 * (attn + dense_mlp + 2 * 7168) + 58 * (attn + moe_mlp + 2 * 7168) + 7168 + 2 * 129280 * 7168
    assert m.parameters == total
    assert total / 671e9 == pytest.approx(1.0, abs=0.001)
    active = total - 58 * (256 - 8) * expert
    assert m.active_parameters == active and active / 37e9 == pytest.approx(1.0, abs=0.03)


def test_gpt3_matches_the_12_l_d_squared_rule():
    m = Models.GPT3_175B
    approx = 12 * 96 * 12288**2                  # 173.95e9 non-embedding parameters
    assert m.layer_params == pytest.approx(approx, rel=0.002)
    assert m.parameters == pytest.approx(175e9, rel=0.01)


def test_mixtral_active_parameters():
    m = Models.Mixtral_8x7B
    expert = 3 * 4096 * 14336
    assert m.parameters - m.active_parameters == 32 * 6 * expert   # 6 idle experts per layer
    assert m.kv_cache_bytes_per_token("fp16") == 2 * 32 * 8 * 128 * 2


def test_cnn_counts():
    r = Models.ResNet50
    assert r.kind == "cnn" and r.family == "Vision"
    assert r.flops_per_sample.m_as("GFLOP") == pytest.approx(2 * 4.09)
    # 11,317,736 layer-output elements x 2 bytes (fp16) x 2 (write + read)
    assert r.activation_bytes_per_sample.m_as("B") == 11_317_736 * 2 * 2
    assert 10e6 <= r.activation_bytes_per_sample.m_as("B") / 4 <= 12e6
    assert r.activation_bytes("fp32") == pytest.approx(2 * r.activation_bytes("fp16"))
    assert Models.MobileNetV2.flops_per_sample.m_as("GFLOP") == pytest.approx(0.6)


def test_model_families():
    assert Models.ResNet50.family == "Vision" and Models.MobileNetV2.family == "Vision"
    assert Models.Language.Llama3_70B.key == "Llama3_70B"
    assert Models.Vision.ResNet50 is Models.ResNet50
    for key in ("BERT_Base", "BERT_Large"):
        m = Models.get(key)
        assert m.encoder_only and m.biases and m.position_embeddings == 512 and not m.gated_mlp
    g = Models.GPT2
    assert g.tie_embeddings and g.biases and g.position_embeddings == 1024 and not g.gated_mlp


# --------------------------------------------------------------------------------------------
# Lookup and groups
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["H100", "h100", "h100-sxm", "NVIDIA H100", "NVIDIA H100 SXM", "H100 SXM5", "nvidia_h100_sxm"])
def test_h100_lookup(name):
    assert Hardware.get(name) is Hardware.H100
    assert name in Hardware


def test_other_lookups():
    assert Hardware.get("A100_80GB") is Hardware.A100
    assert Hardware.get("Jetson AGX Orin") is Hardware.Edge.JetsonAGX
    assert Hardware.Cloud.H100 is Hardware.H100
    assert Models.get("llama-3.1-405b") is Models.Llama3_405B
    assert Infra.Grids.get("us average") is Infra.Grids.US_Avg
    assert Systems.Clusters.get("research-256") is Systems.Clusters.Research_256
    assert Hardware.get(Hardware.H100) is Hardware.H100  # entries pass through


def test_unknown_name_suggests():
    with pytest.raises(UnknownNameError) as err:
        Hardware.get("H10")
    assert "H100" in err.value.suggestions
    assert "did you mean" in str(err.value)
    assert isinstance(err.value, UserInputError) and isinstance(err.value, KeyError)
    with pytest.raises(UnknownNameError):
        Hardware.H10
    with pytest.raises(UnknownNameError):
        Infra.Grids.get("Atlantis")


def test_hardware_groups():
    assert set(Hardware.groups()) == {"Cloud", "Edge", "Mobile", "Tiny"}
    for group in ("Cloud", "Edge", "Mobile", "Tiny"):
        members = getattr(Hardware, group).all()
        assert members and all(hw.category == group for hw in members)
    assert Hardware.Edge.JetsonAGX.name == "Jetson AGX Orin"
    assert Hardware.Tiny.ESP32_S3.category == "Tiny"
    with pytest.raises(UnknownNameError):
        Hardware.Edge.H100  # H100 is Cloud, not Edge


def test_seed_names_exist():
    for key in ["H100", "H100_PCIe", "H200", "B200", "GB200", "A100", "A100_40GB", "V100", "T4", "L4",
                "L40S", "MI300X", "MI325X", "MI250X", "Gaudi2", "Gaudi3", "TPUv4", "TPUv5e", "TPUv5p",
                "TPUv6e", "Trainium2", "JetsonAGX", "JetsonOrinNX", "JetsonOrinNano"]:
        assert Hardware.get(key).key == key
    for key in ["ResNet50", "MobileNetV2", "BERT_Base", "BERT_Large", "GPT2", "GPT3_175B", "Llama2_7B",
                "Llama2_13B", "Llama2_70B", "Llama3_8B", "Llama3_70B", "Llama3_405B", "Mistral_7B",
                "Mixtral_8x7B", "DeepSeek_V3"]:
        assert Models.get(key).key == key
    for key in ["NVLink3", "NVLink4", "NVLink5", "IB_HDR", "IB_NDR", "IB_XDR", "RoCE_400G", "Ethernet_100G"]:
        assert Systems.Fabrics.get(key).key == key
    assert Hardware.H100.name == "NVIDIA H100 SXM"


# --------------------------------------------------------------------------------------------
# User catalogs
# --------------------------------------------------------------------------------------------
def test_yaml_syntax_error_names_line_and_column(tmp_path, restore_registries):
    before = registry_state()
    bad = tmp_path / "broken.yaml"
    bad.write_text("hardware:\n  - key: X\n    name: [unclosed\n")
    with pytest.raises(SchemaError) as err:
        mlsysim.load_catalog(bad)
    msg = str(err.value)
    assert "broken.yaml" in msg and "line" in msg and "column" in msg
    assert registry_state() == before


def test_missing_field_names_file_entry_and_field(tmp_path, restore_registries):
    before = registry_state()
    f = tmp_path / "missing.yaml"
    f.write_text(textwrap.dedent("""\
        hardware:
          - key: NoMemory
            name: Accelerator without memory
            category: Cloud
            vendor: Nobody
            release_year: 2024
            source: "unit test fixture"
            compute: {peak_flops: 100 TFLOP/s, default_precision: bf16}
            tdp: 300 W
        """))
    with pytest.raises(SchemaError) as err:
        mlsysim.load_catalog(f)
    msg = str(err.value)
    assert "missing.yaml" in msg and "NoMemory" in msg and "memory" in msg
    assert registry_state() == before


def test_wrong_unit_is_a_clear_error_and_nothing_is_added(tmp_path, restore_registries):
    before = registry_state()
    f = tmp_path / "units.yaml"
    f.write_text(textwrap.dedent("""\
        grids:
          - key: GoodGrid
            name: A valid grid loaded before the bad entry
            country: Nowhere
            carbon_intensity: 100 gCO2e/kWh
            electricity_price: 0.1 USD/kWh
            pue: 1.2
            wue: 0.5 L/kWh
            source: "unit test fixture"
        hardware:
          - key: MsMemory
            name: Memory measured in milliseconds
            category: Cloud
            vendor: Nobody
            release_year: 2024
            source: "unit test fixture"
            compute: {peak_flops: 100 TFLOP/s}
            memory: {capacity: 80 ms, bandwidth: 1 TB/s}
            tdp: 300 W
        """))
    with pytest.raises(SchemaError) as err:
        mlsysim.load_catalog(f)
    msg = str(err.value)
    assert "MsMemory" in msg and "memory.capacity" in msg and "80 ms" in msg
    assert registry_state() == before  # all or nothing: GoodGrid was rolled back too
    assert "GoodGrid" not in Infra.Grids


def test_duplicate_key_needs_replace(tmp_path, restore_registries):
    f = tmp_path / "dup.yaml"
    f.write_text(textwrap.dedent("""\
        grids:
          - key: Quebec
            name: Quebec override
            country: Canada
            carbon_intensity: 1 gCO2e/kWh
            electricity_price: 0.05 USD/kWh
            pue: 1.1
            wue: 0.1 L/kWh
            source: "unit test fixture"
        """))
    with pytest.raises(SchemaError):
        mlsysim.load_catalog(f)
    assert Infra.Grids.Quebec.name == "Quebec"
    mlsysim.load_catalog(f, replace=True)
    assert Infra.Grids.Quebec.name == "Quebec override"


def test_valid_user_catalog_adds_accelerator_and_transformer(tmp_path, restore_registries):
    f = tmp_path / "my.yaml"
    f.write_text(textwrap.dedent("""\
        hardware:
          - key: MyChip
            name: My Accelerator
            aliases: [my-chip]
            category: Edge
            vendor: Me
            release_year: 2025
            source: "my own datasheet, rev A"
            compute:
              peak_flops: 50 TFLOP/s
              default_precision: fp16
              precision_flops: {fp16: 50 TFLOP/s, int8: 100 TOP/s}
            memory: {capacity: 16 GiB, bandwidth: 200 GB/s, type: LPDDR5}
            tdp: 30 W
        models:
          - key: TinyLM
            name: Tiny LM
            family: Language
            source: "my own config.json"
            layers: 4
            hidden: 256
            heads: 4
            ffn: 1024
            vocab: 1000
        nodes:
          - key: MyBox
            name: Box of four MyChips
            accelerator: my-chip
            accelerators_per_node: 4
            host_power: 50 W
            source: "my own bill of materials"
        """))
    added = mlsysim.load_catalog(f)
    assert [e.key for e in added["hardware"]] == ["MyChip"]
    assert Hardware.get("my-chip").tdp == Q_("30 W")
    assert Hardware.Edge.MyChip.key == "MyChip"
    lm = Models.TinyLM
    assert lm.kind == "transformer"   # kind defaults to transformer in YAML
    # 4 x (4*256^2 + 3*256*1024 + 2*256) + 256 + 2*1000*256
    assert lm.parameters == 4 * (4 * 256**2 + 3 * 256 * 1024 + 2 * 256) + 256 + 2 * 1000 * 256
    assert Systems.Nodes.MyBox.accelerator is Hardware.MyChip


def test_missing_file_is_a_schema_error(tmp_path):
    with pytest.raises(SchemaError):
        mlsysim.load_catalog(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------------------------
# Python construction
# --------------------------------------------------------------------------------------------
def test_construct_entries_in_python():
    tw = TransformerWorkload(key="MyLM", name="My LM", family="Language", source="unit test fixture",
                             layers=2, hidden=128, heads=2, kv_heads=1, ffn=512, vocab=100)
    # 2 x (2*128*128 + 2*128*64 + 3*128*512 + 2*128) + 128 + 2*100*128
    assert tw.parameters == 2 * (2 * 128 * 128 + 2 * 128 * 64 + 3 * 128 * 512 + 2 * 128) + 128 + 2 * 100 * 128
    hw = HardwareNode(key="PyChip", name="Python chip", category="Cloud", vendor="Me", release_year=2025,
                      source="unit test fixture",
                      compute={"peak_flops": "100 TFLOP/s", "default_precision": "bf16"},
                      memory={"capacity": "64 GB", "bandwidth": "2 TB/s"}, tdp="400 W",
                      interconnect={"name": "link", "bandwidth": "400 GB/s"})
    assert hw.ridge_point.m_as("FLOP/byte") == pytest.approx(50)
    assert hw.si["link_bandwidth"] == pytest.approx(200e9)   # bidirectional 400 GB/s -> 200 per direction
    node = Node(key="PyNode", name="Python node", source="unit test fixture", accelerator=hw,
                accelerators_per_node=8, host_power="2 kW", host_price="50000 USD")
    cluster = Cluster(key="PyCluster", name="Python cluster", source="unit test fixture",
                      node=node, node_count=4, fabric="IB_NDR")
    assert cluster.total_accelerators == 32 and cluster.fabric is Systems.Fabrics.IB_NDR
    assert cluster.with_nodes(16).total_accelerators == 128
    with pytest.raises(pydantic.ValidationError):
        HardwareNode(key="Bad", name="bad", category="Cloud", vendor="x", release_year=2025, source="fixture x",
                     compute={"peak_flops": "1 TFLOP/s"}, memory={"capacity": "1 GB/s", "bandwidth": "1 GB/s"},
                     tdp="1 W")
