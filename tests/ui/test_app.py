"""The debugger driven as a user drives it: real app, real session thread, real keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import torch

from mlp_tui.session.phases import PHASES
from mlp_tui.ui.app import MlpTuiApp
from tests.ui.pilot_helpers import settle, wait_until


def run(coro) -> None:
    asyncio.run(coro)


def params(app: MlpTuiApp) -> list[torch.Tensor]:
    return [p.value for p in app.report.parameters]


def status_text(app: MlpTuiApp) -> str:
    from mlp_tui.ui.widgets.status_bar import StatusBar

    return str(app.query_one(StatusBar).render())


def test_opens_on_the_default_scenario_ready_to_step():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert app.built.spec.name == "xor"
            assert app.report.phase is None and app.report.step == 0
            assert "XOR with tanh" in status_text(app)
            assert "ready" in status_text(app)

    run(body())


def test_n_walks_through_the_five_phases_and_the_panes_fill():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            for phase in PHASES:
                await pilot.press("n")
                await settle(pilot)
                assert app.report.phase == phase
                assert f"after {phase}" in status_text(app)
                if phase == "zero_grad":
                    assert app.report.graph is None
                    assert all(p.grad is None for p in app.report.parameters)
                if phase == "forward":
                    kinds = {n.kind for n in app.report.graph.nodes}
                    assert "MeanBackward0" not in kinds and "MmBackward0" in kinds
                if phase == "loss":
                    assert app.report.graph.root.kind == "MeanBackward0"
                    assert app.report.loss is not None
                if phase == "backward":
                    assert [g.name for g in app.report.grads] == ["W0", "b0", "W1", "b1"]
                    assert all(g.after is not None for g in app.report.grads)
                if phase == "step":
                    assert all(d.follows_rule for d in app.report.deltas)
            assert app.report.step == 1

    run(body())


def test_s_finishes_the_step_and_b_rewinds_to_identical_numbers():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("s", "s", "n", "n")
            await settle(pilot)
            assert (app.report.step, app.report.phase) == (3, "forward")
            await pilot.press("s")
            await settle(pilot)
            after_three = [t.clone() for t in params(app)]
            loss_three = app.report.loss
            for _ in range(6):  # back through step 3 and into step 2
                await pilot.press("b")
                await settle(pilot)
            assert (app.report.step, app.report.phase) == (2, "backward")
            await pilot.press("s", "s")
            await settle(pilot)
            assert app.report.step == 3 and app.report.loss == loss_three
            assert all(torch.equal(a, b) for a, b in zip(after_three, params(app), strict=True))

    run(body())


def test_z_switches_zero_grad_off_and_grads_accumulate():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            first = [p.grad.clone() for p in app.report.parameters]
            await pilot.press("z")
            await settle(pilot)
            assert app.report.zero_grad is False
            assert "zero_grad OFF" in status_text(app)
            await pilot.press("s")
            await settle(pilot)
            assert app.report.zeroed is False
            for g, before in zip(app.report.grads, first, strict=True):
                assert g.accumulated
                assert torch.allclose(g.before, before)
                assert torch.allclose(g.after, g.before + g.contribution)
            assert any(p.kind == "accumulating" for p in app.report.pitfalls)

    run(body())


def test_c_runs_off_the_ui_thread_and_a_breakpoint_pauses_it():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)  # xor stops itself at its "accuracy >= 0.9" breakpoint
            assert app.report.stop is not None and app.report.stop.reason == "breakpoint"
            assert app.report.accuracy >= 0.9
            assert app.report.graph is not None  # the paused state is fully captured
            assert not app.runner.running

    run(body())


def test_c_again_pauses_a_long_run():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            session = app.runner.built.session
            session.set_breakpoints([])
            session.end_step = 10**9  # nothing ends this run but the key
            await pilot.press("c")
            await wait_until(pilot, lambda: app.runner.running and app.report.step > 5)
            await pilot.press("c")
            await settle(pilot)
            assert not app.runner.running and app.report.step > 5
            assert app.report.complete and app.report.stop is None

    run(body())


def test_c_pauses_at_the_end_of_the_scenarios_steps_and_c_again_goes_on():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            app.runner.built.session.set_breakpoints([])  # xor's 90% breakpoint aside
            await pilot.press("c")
            await settle(pilot)
            assert (app.report.step, app.report.phase) == (300, "step")  # [training] steps
            assert app.report.stop.reason == "end"
            status = status_text(app)
            assert "step 300 · after step" in status
            assert "end of the scenario's steps (c goes on)" in status
            await pilot.press("c")
            await wait_until(pilot, lambda: app.report.step > 300)  # progress reports
            await pilot.press("c")  # pause it again
            await settle(pilot)
            assert app.report.step > 300 and app.report.stop is None

    run(body())


def test_l_changes_the_learning_rate_and_bad_input_is_refused():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("l")
            await pilot.pause()
            for _ in range(10):
                await pilot.press("backspace")
            await pilot.press(*"abc", "enter")
            await pilot.pause()
            assert type(app.screen).__name__ == "LearningRateScreen"  # refused, still asking
            for _ in range(3):
                await pilot.press("backspace")
            await pilot.press(*"0.05", "enter")
            await settle(pilot)
            assert app.report.lr == 0.05
            await pilot.press("s")
            await settle(pilot)
            d = app.report.deltas[0]
            g = app.report.grads[0].after
            assert torch.allclose(d.delta, -0.05 * g, atol=1e-7)

    run(body())


def test_r_resets_to_the_initial_weights():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            initial = [t.clone() for t in params(app)]
            await pilot.press("s", "s", "s")
            await settle(pilot)
            assert not torch.equal(initial[0], params(app)[0])
            await pilot.press("r")
            await settle(pilot)
            assert app.report.step == 0
            assert all(torch.equal(a, b) for a, b in zip(initial, params(app), strict=True))

    run(body())


def test_o_opens_another_scenario_from_the_picker():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("o")
            await pilot.pause()
            assert type(app.screen).__name__ == "ScenarioPicker"
            await pilot.press("down", "enter")
            await settle(pilot)
            from mlp_tui.scenarios import course

            assert app.built.spec.name == course()[1].name
            assert app.report.step == 0

    run(body())


def test_a_bad_scenario_path_is_a_notification_and_the_app_keeps_going(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\nkind = "xorr"\n')

    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("o")
            await pilot.pause()
            await pilot.click("Input")
            await pilot.press(*str(bad), "enter")
            await settle(pilot)
            assert app.built.spec.name == "xor"  # still the old scenario
            messages = [n.message for n in app._notifications]
            assert any("data.kind" in m and "did you mean 'xor'" in m for m in messages)
            await pilot.press("n")
            await settle(pilot)
            assert app.report.phase == "zero_grad"

    run(body())


def test_a_bad_scenario_on_the_command_line_exits_with_status_2(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nkind = 'xor'\nsamples = -1\n")

    async def body():
        app = MlpTuiApp(str(bad))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
        assert app.return_code == 2
        assert "data.samples" in app.startup_error and str(bad) in app.startup_error

    run(body())


def test_help_lists_every_key_and_closes():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("escape")
            await pilot.pause()
            assert type(app.screen).__name__ != "HelpScreen"

    run(body())


def test_screenshot_and_graph_export_write_files(tmp_path: Path):
    async def body():
        app = MlpTuiApp(export_dir=tmp_path)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("g")  # no graph yet: a warning, no file
            await pilot.press("n", "n", "n")
            await settle(pilot)
            await pilot.press("g", "p")
            await pilot.pause()
        dots = list(tmp_path.glob("*.dot"))
        assert len(dots) == 1 and "MmBackward0" in dots[0].read_text()
        assert "AccumulateGrad" in dots[0].read_text()
        svgs = list(tmp_path.glob("*.svg"))
        assert len(svgs) == 1 and "<svg" in svgs[0].read_text()

    run(body())


def test_q_quits_with_status_0():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("q")
            await pilot.pause()
        assert app.return_code in (0, None)

    run(body())


def test_divergence_to_nan_pauses_and_points_at_the_first_bad_node(tmp_path: Path):
    scenario = tmp_path / "diverge.toml"
    scenario.write_text(
        '[data]\nkind = "sine"\nsamples = 64\n[model]\nhidden = [16]\nactivation = "relu"\n'
        'init = "kaiming"\n[optimizer]\nkind = "sgd"\nlr = 5.0\n'
    )

    async def body():
        app = MlpTuiApp(str(scenario))
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            assert app.report.stop is not None and app.report.stop.reason == "nonfinite"
            assert any(p.kind == "nonfinite" for p in app.report.pitfalls)

    run(body())


def test_small_and_resized_terminals_do_not_crash():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("s", "n", "n")
            await settle(pilot)
            for size in [(40, 12), (160, 50), (20, 6), (80, 24)]:
                await pilot.resize_terminal(*size)
                await pilot.pause()
            await pilot.press("n")
            await settle(pilot)
            assert app.report.phase == "loss"

    run(body())


def test_tab_keys_and_a_selected_graph_node_opens_in_the_tensor_tab():
    async def body():
        from textual.widgets import TabbedContent

        from mlp_tui.ui.widgets.tensor_pane import TensorPane

        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            tabs = app.query_one(TabbedContent)
            for key, tab in (("1", "loss"), ("2", "tensor"), ("3", "lesson")):
                await pilot.press(key)
                await pilot.pause()
                assert tabs.active == tab
            await pilot.press("n", "n", "n")  # the graph is complete after the loss phase
            await settle(pilot)
            await pilot.press("end", "enter")  # the graph's tape has focus: its last line, loss
            await pilot.pause()
            assert tabs.active == "tensor"
            pane = app.query_one(TensorPane)
            assert pane.border_title == "Tensor · loss (MeanBackward0)"
            await pilot.press("1", "up", "enter")  # the line above, back from the Loss tab
            await pilot.pause()
            assert tabs.active == "tensor"
            kinds = {n.kind for n in app.report.graph.nodes}
            title = pane.border_title
            assert title != "Tensor · loss (MeanBackward0)"
            assert title.rsplit("(", 1)[1].rstrip(")") in kinds

    run(body())


def test_the_command_palette_runs_the_debugger_actions():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for action in ("Next phase", "Step", "Run/pause", "Back", "zero_grad", "Open"):
                assert action in titles
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Next phase")
            from textual.command import CommandList

            commands = app.screen.query_one(CommandList)
            await wait_until(pilot, lambda: commands.option_count > 0)  # the search is done
            await pilot.press("enter")
            await settle(pilot)
            assert app.report.phase == "zero_grad"

    run(body())


def test_q_while_training_stops_the_thread_and_quits_with_status_0():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.runner.built.session.set_breakpoints([])
            app.runner.built.session.end_step = 10**9  # nothing ends this run but q
            await pilot.press("c")
            await wait_until(pilot, lambda: app.runner.running)
            await pilot.press("q")
            await wait_until(pilot, lambda: app.return_code is not None)
        assert app.return_code == 0
        assert not app.runner._thread.is_alive()  # no training left running at exit

    run(body())
