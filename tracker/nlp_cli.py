"""`tracker nlp train` / `tracker nlp evaluate`: the stance model on the real-text corpus and the
project's own data (registered in `tracker.cli`; cheap to import: the NLP loads inside each command)."""

from __future__ import annotations

import json

import click

from tracker.app import App, UsageProblem, pass_app


@click.group("nlp")
def nlp() -> None:
    """Train and evaluate the stance model."""


def _stance_corpus(app: App, corpus_path: str | None, labels: str | None, no_corpus: bool):
    """The real-text corpus for `nlp train` / `nlp evaluate` (None with --no-corpus).

    Path: --corpus, else ``[nlp] stance_corpus`` (relative to the config file), else
    ``../shared/corpora/stance-real`` relative to the working directory. Bad lines are named on
    stderr and skipped; a missing corpus is a usage error unless --no-corpus asks for own data only.
    """
    from pathlib import Path

    from nlp import stance_corpus

    if no_corpus:
        return None
    configured = app.config.nlp.get("stance_corpus")
    if corpus_path:
        path = Path(corpus_path)
    elif configured:
        path = Path(configured)
        if not path.is_absolute() and app.config.path is not None:
            path = Path(app.config.path).parent / path
    else:
        path = stance_corpus.DEFAULT_CORPUS
    try:
        corpus = stance_corpus.read_corpus(path, labels)
    except stance_corpus.CorpusMissing as exc:
        raise UsageProblem(f"{exc}; pass --corpus PATH, or --no-corpus to use the project's own data only") from None
    for problem in corpus.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(f"stance corpus {path}: {len(corpus.records)} passages used, {len(corpus.problems)} problem(s), "
               f"{corpus.unlabelled} without an adjudicated label (skipped)", err=True)
    return corpus


_CORPUS_OPTIONS = (
    click.option("--corpus", "corpus_path", metavar="PATH",
                 help="Real-text stance corpus (default: [nlp] stance_corpus, else ../shared/corpora/stance-real)."),
    click.option("--labels", type=click.Path(exists=True, dir_okay=False),
                 help="Adjudicated labels by passage id (default: nlp/stance_data/real_labels.jsonl)."),
    click.option("--no-corpus", is_flag=True, help="Use the project's own data only."),
)


def _corpus_options(func):  # a click decorator
    for option in reversed(_CORPUS_OPTIONS):
        func = option(func)
    return func


@nlp.command("train")
@click.option("--data", type=click.Path(exists=True, dir_okay=False), help="Labelled JSONL (default: the packaged dataset).")
@click.option("--out", type=click.Path(dir_okay=False), help="Model file (default: the packaged model path).")
@_corpus_options
@pass_app
def nlp_train(app: App, data: str | None, out: str | None, corpus_path: str | None, labels: str | None,
              no_corpus: bool) -> None:
    """Train the stance model on the real corpus + the project's train split and save it."""
    from nlp import stance_train

    report = stance_train.train(_stance_corpus(app, corpus_path, labels, no_corpus), data_path=data, out_path=out)
    click.echo(f"stance model {report['model_version']} -> {report['model_path']}: {report['n_real']} real passages + "
               f"{report['n_own']} project windows, fitted in {report['fit_seconds']} s")


@nlp.command("evaluate")
@click.option("--data", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", type=click.Path(exists=True, dir_okay=False))
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True, help="Grouped CV folds over the real corpus.")
@click.option("--no-cross-target", is_flag=True, help="Skip the per-target leave-out runs.")
@_corpus_options
@click.option("--json", "as_json", is_flag=True)
@pass_app
def nlp_evaluate(app: App, data: str | None, model: str | None, folds: int, no_cross_target: bool,
                 corpus_path: str | None, labels: str | None, no_corpus: bool, as_json: bool) -> None:
    """Real-text grouped CV (per language, target, hard case), cross-target, and the project split."""
    from nlp import stance_eval

    corpus = _stance_corpus(app, corpus_path, labels, no_corpus)
    report = stance_eval.evaluate(corpus, data_path=data, model_path=model, folds=folds, cross=not no_cross_target)
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else stance_eval.format_report(report))
