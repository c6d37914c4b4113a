"""The model index: metafiles, the pages generated from them, and the
benchmarks' model table that reads them."""
import os.path as osp

import pytest
import yaml
from benchlib import MODELS_TABLE, build_offline, get_complexity, input_hw
from benchlib.model_index import (ModelIndexError, configs_without_entry,
                                  load_index, reported_metric)
from benchlib.models import ModelSpec, quiet_mmengine

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def models():
    return load_index(ROOT)


def test_every_entry_names_an_existing_config(models):
    assert len(models) >= 19
    for config, model in models.items():
        assert osp.isfile(osp.join(ROOT, config)), config
        assert model['Name'] == osp.splitext(osp.basename(config))[0]
        assert model['_collection'], f'{config}: no collection'


def test_every_full_config_has_an_entry(models):
    """Only the sample configs and the _base_ snippets are left out."""
    assert configs_without_entry(ROOT, models, ['_base_', 'sample']) == []


def test_papers_models_carry_their_papers_figures(models):
    by_name = {m['Name']: m for m in models.values()}
    mpn = by_name['td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192']
    assert reported_metric(mpn) == pytest.approx(0.662)
    assert mpn['Metadata']['Paper FLOPs'] == 557_000_000
    rep_b = by_name[
        'td-reg_repvgg-b-fusion-deploy_rle-1xb64-210e_coco-256x192']
    assert reported_metric(rep_b) == pytest.approx(0.661)
    assert rep_b['Metadata']['Paper Parameters'] == 11_640_000
    for model in models.values():
        meta = model['Metadata']
        if model.get('Results'):
            assert 'not reproduced' in meta['Results Source'], model['Name']
        # every model starts from a published checkpoint or says which
        if 'Parameters' in meta:
            assert meta['Parameters'] > 0 and meta['FLOPs'] > 0, model['Name']


def test_missing_metafile_or_config_is_named(tmp_path):
    (tmp_path / 'model-index.yml').write_text(
        yaml.safe_dump({'Import': ['configs/a.yml']}))
    with pytest.raises(ModelIndexError, match='configs/a.yml'):
        load_index(str(tmp_path))
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'a.yml').write_text(
        yaml.safe_dump({
            'Models': [{
                'Name': 'gone',
                'Config': 'configs/gone.py'
            }]
        }))
    with pytest.raises(ModelIndexError, match="'gone'.*configs/gone.py"):
        load_index(str(tmp_path))


def test_benchmark_table_reads_the_index():
    for name, spec in MODELS_TABLE.items():
        assert 40 < spec.ap < 80, name  # resolves, on the percent scale
    assert MODELS_TABLE['RepNet-A-deploy'].ap == 63.4
    assert MODELS_TABLE['RepNet-A-deploy'].paper_size == (7.16, 1.34)
    assert MODELS_TABLE['MobilePoseNet-384x288-train'].paper_size == (1.5,
                                                                      1.23)
    assert MODELS_TABLE['RTMPose-t'].ap == 68.2  # MMPose's own metafile
    # a model-table entry without a metafile entry fails, naming it
    unlisted = ModelSpec('configs/body_2d_keypoint/none.py', True)
    with pytest.raises(ModelIndexError, match='none.py'):
        unlisted.ap


def test_generated_tables_are_in_sync(load_tool):
    zoo = load_tool('model_zoo')
    assert zoo.sync(zoo.results_pages(), write=False) == []


def test_out_of_sync_table_is_reported(load_tool, tmp_path, monkeypatch):
    zoo = load_tool('model_zoo')
    page = 'configs/body_2d_keypoint/topdown_regression/coco/repnet_coco.md'
    with open(osp.join(ROOT, page)) as f:
        text = f.read()
    stale = text.replace('| 63.4 |', '| 64.0 |', 1)
    assert stale != text
    fake_root = tmp_path
    monkeypatch.setattr(zoo, 'ROOT', str(fake_root))
    (fake_root / osp.dirname(page)).mkdir(parents=True)
    (fake_root / page).write_text(stale)
    monkeypatch.setattr(zoo, 'load_index', lambda root: load_index(ROOT))
    problems = zoo.sync([page], write=False)
    assert problems[0].startswith(f'{page}: table \'repnet_coco\' differs')


@pytest.mark.parametrize('name', [
    'td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192',
    'td-hm_mobilenetv3-lpb-deploy_1xb32-210e_coco-256x192',
    'td-reg_repvgg-a-fusion-deploy_rle-1xb64-210e_coco-256x192',
])
def test_measured_sizes_hold(models, name):
    """The metafile's measured figures are what the counter gives now."""
    import mmpose_light  # noqa: F401
    config, model = next(
        (c, m) for c, m in models.items() if m['Name'] == name)
    with quiet_mmengine():
        net, cfg = build_offline(osp.join(ROOT, config))
        params, flops = get_complexity(net.eval(), (3, *input_hw(cfg)))
    meta = model['Metadata']
    assert params == pytest.approx(meta['Parameters'], rel=0.005)
    assert flops == pytest.approx(meta['FLOPs'], rel=0.005)
