"""The generator-file kind "product": an independent product stored as its factors' tables."""

import json

import numpy as np
import pytest

from generators import ProductGenerator, library, product
from generators.io import GeneratorFileError, generator_from_dict, generator_to_dict, load_generator, save_generator
from generators.testing import all_words, loop_word_probability, tiny_product


def test_product_round_trip_keeps_the_factors(tmp_path):
    g = product(tiny_product(), library.moon())  # nested: a product inside a product
    d = generator_to_dict(g)
    assert d["kind"] == "product" and [f["kind"] for f in d["factors"]] == ["product", "ghmm"]
    json.dumps(d)
    h = generator_from_dict(d)
    assert isinstance(h, ProductGenerator) and h.name == g.name and h.sizes == (12, 3)
    w = all_words(36, 2)
    np.testing.assert_allclose(h.word_probability(w), g.word_probability(w), rtol=1e-12, atol=1e-15)
    path = tmp_path / "p.json"
    save_generator(g, path)
    k = load_generator(path)
    assert isinstance(k.factors[0], ProductGenerator)
    np.testing.assert_allclose(k.word_probability([[3, 35]]), loop_word_probability(g, [3, 35]), rtol=1e-10)


@pytest.mark.parametrize("data, match", [
    ({"kind": "product"}, "needs `factors`"),
    ({"kind": "product", "factors": []}, "needs `factors`"),
    ({"kind": "product", "factors": [{"kind": "hmm", "T": [[[0.5, 0.4], [0.5, 0.5]]]}]}, r"factors\[0\]"),
    ({"kind": "product", "factors": ["mess3"]}, r"factors\[0\]"),
])
def test_bad_products_name_the_factor(data, match):
    with pytest.raises(GeneratorFileError, match=match):
        generator_from_dict(data)
