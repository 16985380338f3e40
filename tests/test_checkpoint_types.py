"""Every type a graph's state can hold is on the checkpointer's msgpack allow-list, so a resumed run revives it
as itself (a type left off comes back as a plain dict and the resumed run fails on it)."""

from __future__ import annotations

import enum
import typing

from pydantic import BaseModel

from graph.state import MorningState, NightState
from memory.checkpoint import STATE_TYPES, DeskSerializer
from graph.state import Approval
from vocab.contracts import Execution, Intent
from vocab.terms import Regime, SizingTier, VolState

OURS = ("vocab", "tools", "graph", "models", "memory", "evals", "brokers", "prompts", "desk")


def _reachable(tp, seen: set[type]) -> None:
    for arg in typing.get_args(tp):
        _reachable(arg, seen)
    if not isinstance(tp, type) or tp in seen or not tp.__module__.startswith(OURS):
        return
    if issubclass(tp, BaseModel):
        seen.add(tp)
        for field in tp.model_fields.values():
            _reachable(field.annotation, seen)
    elif issubclass(tp, enum.Enum):
        seen.add(tp)


def test_every_type_in_the_graphs_state_is_revived_from_a_checkpoint():
    seen: set[type] = set()
    for state in (NightState, MorningState):
        for hint in typing.get_type_hints(state).values():
            _reachable(hint, seen)
    missing = sorted(f"{t.__module__}.{t.__qualname__}" for t in seen if (t.__module__, t.__qualname__)
                     not in set(STATE_TYPES))
    assert not missing, f"add to memory.checkpoint.STATE_TYPES: {missing}"


# A state written by the desk before the vocabulary moved from tools/contracts.py to vocab/ (commit 001d26b's
# serializer): its types are named under ``tools.contracts``.
OLD_STATE = bytes.fromhex(
    "84a6726567696d65c71f0093af746f6f6c732e636f6e747261637473a6526567696d65a663686f707079a9766f6c5f7374617465c71f"
    "0093af746f6f6c732e636f6e747261637473a8566f6c5374617465a462656172a7696e74656e747391c8029a0594af746f6f6c732e63"
    "6f6e747261637473a6496e74656e74de0013a9696e74656e745f6964a26931a561735f6f66c7150193a86461746574696d65a4646174"
    "6593cd07e10301a673796d626f6ca3584f4da473696465a3627579a46b696e64a5656e747279ad7461726765745f776569676874cb3f"
    "a999999999999aa87175616e74697479cb4024000000000000af7265666572656e63655f7072696365cb4054000000000000a473746f"
    "70c0a573636f7265c0a7726561736f6e7390a673697a696e679184a46e616d65a462617365aa6d756c7469706c696572cb3ff0000000"
    "000000ac7765696768745f6166746572cb3fa999999999999aa6726561736f6ea462617365a876657264696374739186ac70726f706f"
    "73616c5f6b6579b4323031372d30332d30313a7472656e643a584f4da86465636973696f6ea661646a757374af73697a655f6d756c74"
    "69706c696572cb3fe0000000000000a473746f70c0a6726561736f6eaa6c617465207472656e64aa70726f76656e616e63658aa87072"
    "6f7669646572a572756c6573a56d6f64656ca572756c6573ae70726f6d70745f76657273696f6ea27631aa6c6174656e63795f6d73cb"
    "3ff0000000000000a6746f6b656e7300a8636f73745f757364cb0000000000000000a763616c6c5f6964c0a87265706c61796564c2a8"
    "66616c6c6261636bc2af66616c6c6261636b5f726561736f6ec0a764656e69616c739182a472756c65aa6d61785f776569676874a672"
    "6561736f6ea7636c6970706564a9747261696c5f706374c0a974696572735f686974c0a474696572c7240093af746f6f6c732e636f6e"
    "747261637473aa53697a696e6754696572a7424c454e444544a5676174657390a5747261636ba46d61696eb36d6f64656c5f76616c69"
    "646174655f6a736f6ea764656e69616c7381a44141504c91c7450594af746f6f6c732e636f6e747261637473a644656e69616c82a472"
    "756c65a668616c746564a6726561736f6ea468616c74b36d6f64656c5f76616c69646174655f6a736f6e"
)


def test_a_checkpoint_written_before_the_vocabulary_moved_revives_as_the_moved_types():
    state = DeskSerializer().loads_typed(("msgpack", OLD_STATE))
    assert state["regime"] is Regime.CHOPPY and state["vol_state"] is VolState.BEAR
    (intent,) = state["intents"]
    assert isinstance(intent, Intent) and intent.tier is SizingTier.BLENDED
    assert intent.verdicts[0].provenance.provider == "rules" and intent.denials[0].rule == "max_weight"
    assert state["denials"]["AAPL"][0].reason == "halt"


def test_a_state_round_trips_through_the_serializer_as_itself():
    serde = DeskSerializer()
    state = serde.loads_typed(("msgpack", OLD_STATE))
    assert serde.loads_typed(serde.dumps_typed(state)) == state


# A morning's state written when ``Execution`` was defined in graph/state.py (it moved to vocab/contracts.py).
OLD_MORNING = bytes.fromhex(
    "82a7726573756c747391c7a30594ab67726170682e7374617465a9457865637574696f6e89a9696e74656e745f6964a26931a673796d"
    "626f6ca3584f4da473696465a3627579a6737461747573a666696c6c6564a6726561736f6ea0af636c69656e745f6f726465725f6964"
    "c0a87175616e74697479cb4008000000000000a57072696365cb4054200000000000ac70726963655f736f75726365c0b36d6f64656c"
    "5f76616c69646174655f6a736f6ea8617070726f76616cc7660594ab67726170682e7374617465a8417070726f76616c85a864656369"
    "73696f6ea7617070726f7665a56163746f72a8736c61636b3a5531a6726561736f6ec0a8646561646c696e65c0a7656e747269657390"
    "b36d6f64656c5f76616c69646174655f6a736f6e"
)


def test_a_morning_checkpoint_written_before_execution_moved_revives_it():
    state = DeskSerializer().loads_typed(("msgpack", OLD_MORNING))
    (done,) = state["results"]
    assert isinstance(done, Execution) and done.status == "filled" and done.price == 80.5
    assert isinstance(state["approval"], Approval) and state["approval"].actor == "slack:U1"
