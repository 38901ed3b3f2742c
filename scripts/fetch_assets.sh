#!/usr/bin/env bash
# Downloads the MuJoCo model files gorl needs (never part of this repository):
#   dm_control tag 1.0.7 (d05e627a): suite/{cheetah,hopper,walker,finger,fish,humanoid,cartpole}.xml
#                                     and suite/common/{materials,skybox,visual}.xml  (Apache-2.0)
#   gym commit 1b09a7eb:              envs/mujoco/assets/{hopper,walker2d,half_cheetah}.xml  (MIT)
# and checks each against its SHA-256. Usage: scripts/fetch_assets.sh [DIR]
set -euo pipefail
dest="${1:-${XDG_DATA_HOME:-$HOME/.local/share}/gorl/assets}"
dmc="https://raw.githubusercontent.com/google-deepmind/dm_control/d05e627a1917d658ff14d4d52006c133125dbaaa"
gym="https://raw.githubusercontent.com/openai/gym/1b09a7eb08cb8bead71f74f49d50c1888e642c9e"

# target path | source URL | sha256
files=(
  "dm_control/cartpole.xml|$dmc/dm_control/suite/cartpole.xml|b1d184ffa2f74260a6ad3113cbf6f539a048055fcf735b7ca2dbe426dd66fc22"
  "dm_control/cheetah.xml|$dmc/dm_control/suite/cheetah.xml|47e3152e1213d6895ef36b36bbd399f1c7e0edf7d39f05675cd72bc5fbc14faa"
  "dm_control/finger.xml|$dmc/dm_control/suite/finger.xml|7d106eafc8c7ec95dd4cfb00c9216d1522862aa7bdf2ee86f64f923c551dacef"
  "dm_control/fish.xml|$dmc/dm_control/suite/fish.xml|a08777b8b3623359ff68a8d35f2df10ecae1e771c97fa270926bbd29254394c9"
  "dm_control/hopper.xml|$dmc/dm_control/suite/hopper.xml|6e86c37515e34af796af664c4e24e0586e4047fe5243f304de119e83769048b8"
  "dm_control/humanoid.xml|$dmc/dm_control/suite/humanoid.xml|3aea178a6030ad10fde4889a0806085ee5d2cf69c4b5996577a7f7f8cfa39451"
  "dm_control/walker.xml|$dmc/dm_control/suite/walker.xml|e8b6dd3bb40826dffed0faed978d9c5dd0aead7efaa28c27c4bb2df663af874c"
  "dm_control/common/materials.xml|$dmc/dm_control/suite/common/materials.xml|83ee4f7d3f0c9b3003ad121c2c35169a32a922c437321278f27db60d577ccfac"
  "dm_control/common/skybox.xml|$dmc/dm_control/suite/common/skybox.xml|71db77c7c88dd4e1b54eb394deecfba673bbf539d110de68aa229dee00abf107"
  "dm_control/common/visual.xml|$dmc/dm_control/suite/common/visual.xml|1e338ca511de35b902c4ca944d857c23fe4e7a5aea46a475cdc317dd454245b0"
  "dm_control/LICENSE|$dmc/LICENSE|"
  "gym/half_cheetah.xml|$gym/gym/envs/mujoco/assets/half_cheetah.xml|11797a5d69e8ac955e89ca6fdd3a0087f1c990094fda401ac51420de1b6c5494"
  "gym/hopper.xml|$gym/gym/envs/mujoco/assets/hopper.xml|eed30df9d9a4511911f58f3efaa7aefc2d17de77b03b8a2e4e21c960f3784862"
  "gym/walker2d.xml|$gym/gym/envs/mujoco/assets/walker2d.xml|83b35f460ba514454c0355e9b4d54387b08a54a34e82173f5e16dc6444974635"
  "gym/LICENSE.md|$gym/LICENSE.md|"
)

mkdir -p "$dest/dm_control/common" "$dest/gym"
for entry in "${files[@]}"; do
  IFS='|' read -r target url sha <<<"$entry"
  curl -fsSL --retry 3 -o "$dest/$target.part" "$url" || { echo "download failed: $url" >&2; exit 1; }
  if [ -n "$sha" ]; then
    echo "$sha  $dest/$target.part" | sha256sum -c --quiet - \
      || { echo "checksum mismatch for $target (from $url)" >&2; exit 1; }
  fi
  mv "$dest/$target.part" "$dest/$target"
done
echo "model assets in $dest; use them with: export GORL_ASSETS=$dest"
