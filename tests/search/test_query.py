"""Reading the query box: compound words and the title phrases every engine ranks first."""

from search.query import parse_text, title_key, title_match, title_phrases

E2EE = {("e2ee",): [("end", "to", "end", "encryption")]}


def alternatives(text, synonyms=None):
    return [clause.alternatives for clause in parse_text(text, synonyms)]


def test_words_typed_apart_also_match_written_together():
    assert alternatives("photo dna") == [(("photo",), ("photodna",)), (("dna",), ("photodna",))]
    # A stop word brings its neighbour the joined form, and is dropped itself.
    assert alternatives("we protect")[0][:2] == (("protect",), ("weprotect",))


def test_a_long_word_also_matches_written_apart():
    (found,) = alternatives("photodna")
    assert found == (("photodna",), ("pho", "todna"), ("phot", "odna"), ("photo", "dna"))
    # Parts are at least three letters and never a stop word or number ("not able").
    assert alternatives("notable") == [(("notable",), ("nota", "ble"))]
    assert alternatives("dna") == [(("dna",),)]
    assert alternatives("covid19") == [(("covid19",),)]


def test_phrases_and_exclusions_are_taken_as_typed():
    assert alternatives('"photo dna"') == [(("photo", "dna"), ("photodna",))]
    assert alternatives('"end to end encryption"') == [(("end", "to", "end", "encryption"),)]
    assert alternatives("x -photodna") == [(("x",),), (("photodna",),)]


def test_title_phrases_and_matches():
    phrases = title_phrases(parse_text("E2EE", E2EE))
    assert phrases[:2] == ["e2ee", "end end encryption"]
    report = title_key("End-To-End Encryption: Understanding the impacts")
    article = title_key("I worked at Facebook — end-to-end encryption will sacrifice")
    assert title_match(report, phrases) == 1
    assert title_match(article, phrases) == 0
    assert title_match(title_key("PhotoDNA"), title_phrases(parse_text("Photo DNA"))) == 2
    assert title_match(title_key("Photography"), title_phrases(parse_text("photo"))) == 0
    assert title_phrases(parse_text("-photodna")) == []
