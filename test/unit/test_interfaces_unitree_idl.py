"""Unitree's wire structs keep the identity a robot's participants match them on, and every
message starts zeroed, each one with lists of its own."""

import pytest

pytest.importorskip("cyclonedds")

from egoscale_ros.interfaces import unitree_idl as idl
from egoscale_ros.interfaces.fixed_cdr import c_size

# The complete XTypes type identifier of each message type: a hash of its type object (type and
# member names, member types and order, extensibility, nested structs). Changing any of them makes
# a type the robot's DDS participants no longer match.
TYPE_IDS = {
    "HgLowCmd": "ef636a54656de1d49ca65377b07c",
    "HgLowState": "860cfa7cbdcd87fbdb066de53c1d",
    "HgHandCmd": "3c1de971e83cba8855eae664e830",
    "HgHandState": "5601b12ec8261084b429c7f6c01e",
    "GoLowCmd": "12da99179559f14db8b7ab23acdd",
    "GoLowState": "2293c1e094ded90dde1911ad111d",
    "GoMotorCmds": "1136e81c0ff2d6d2d2d70ab92fc7",
    "GoMotorStates": "63a7ee908ec4a6bc897c73e691ed",
}


@pytest.mark.parametrize("name", TYPE_IDS)
def test_each_message_type_keeps_its_xtypes_identity(name):
    cls = getattr(idl, name)
    assert bytes(cls.__idl__.get_type_id().value).hex() == TYPE_IDS[name]


def test_the_crc_layouts_keep_their_c_sizes():
    assert (c_size(idl.HgLowCmd), c_size(idl.HgLowState)) == (1004, 2092)
    assert (c_size(idl.GoLowCmd), c_size(idl.GoLowState)) == (812, 1180)


def test_a_new_message_is_zeroed_and_owns_its_lists():
    first, second = idl.HgLowState(), idl.HgLowState()
    assert first.tick == 0 and first.motor_state[34].tau_est == 0.0 and first.reserve == [0, 0, 0, 0]
    assert first.imu_state.quaternion == [1.0, 0.0, 0.0, 0.0]  # at rest: the identity rotation
    first.motor_state[0].q = 1.0
    first.imu_state.quaternion[0] = 0.0
    first.reserve[0] = 7
    assert first.motor_state[1].q == 0.0  # the array's elements are distinct structs
    assert second.motor_state[0].q == 0.0 and second.imu_state.quaternion[0] == 1.0 and second.reserve[0] == 0
    assert idl.GoLowCmd().head == [0, 0] and idl.HgHandCmd().motor_cmd == []
